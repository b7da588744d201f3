//! `cdlc FILE --emit jax [--out model.py]`: writes the train block's model
//! as a Python module for JAX (printed when `--out` is not given). With
//! `--out`, the train block's examples (`model.jsonl`, as `cdlc data`
//! writes them) and cdlc's initial weights (`model.init.safetensors`) are
//! written beside it, so that `python model.py` trains from the same start
//! on the same data.

use super::files::FileError;
use cdlc_runtime::checkpoint::{ParamSlice, ParamView};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// Exports the train block `train` (or the first) of a checked program.
pub fn emit(
    c: &cdlc::Compilation,
    file: &Path,
    train: Option<&str>,
    out: Option<&Path>,
) -> ExitCode {
    let (setup, prepared) = match super::grad::train_setup(c, train, "cdlc FILE --emit jax") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let name = file.file_name().map_or("the program".to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    let hash = super::source_hash(c.sources.text(c.file));
    let text = match cdlc::export::jax(setup, &prepared, &name, &hash) {
        Ok(t) => t,
        Err(e) => {
            let span = c.program.item(setup.model).span;
            return super::report::fail(e.to_diagnostic(span), &c.sources, 1);
        }
    };
    let Some(out) = out else {
        super::stdout::print(format_args!("{text}"));
        return ExitCode::SUCCESS;
    };
    let (want, examples) = match super::grad::block_examples(c, setup, &prepared, file) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let init = cdlc::training::init_params(&prepared.inst, setup.seed);
    let views: Vec<ParamView<'_>> = prepared
        .inst
        .slots
        .iter()
        .zip(&init)
        .map(|(s, p)| ParamView {
            name: &s.name,
            shape: &s.stored_shape,
            data: ParamSlice::F64(&p.data),
        })
        .collect();
    let mut meta = BTreeMap::new();
    meta.insert("format".to_string(), "cdlc-weights-1".to_string());
    meta.insert("model".to_string(), setup.model_name.clone());
    meta.insert("source_sha256".to_string(), hash);
    let data = super::write_data::jsonl(&examples, &want);
    let written = cdlc_runtime::checkpoint::write_atomic(out, text.as_bytes())
        .map_err(|e| FileError::write(out, e))
        .and_then(|()| {
            let path = out.with_extension("jsonl");
            cdlc_runtime::checkpoint::write_atomic(&path, data.as_bytes())
                .map_err(|e| FileError::write(&path, e))
        })
        .and_then(|()| {
            let path = out.with_extension("init.safetensors");
            cdlc_runtime::checkpoint::save(&path, &views, &meta)
                .map_err(|e| FileError::write(&path, e))
        });
    match written {
        Ok(()) => {
            super::notes::emit(&super::notes::Note::Exported {
                module: out,
                examples: examples.len(),
                data: &out.with_extension("jsonl"),
                weights: &out.with_extension("init.safetensors"),
            });
            ExitCode::SUCCESS
        }
        Err(e) => super::report::fail(e.to_diagnostic(), &c.sources, 1),
    }
}
