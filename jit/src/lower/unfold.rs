//! Unfolds (streams and Mealy machines) and their backward: the
//! information a batch needs for the steps, and the step region.

use super::*;

impl Lowerer<'_> {
    pub(super) fn unfold_info(&mut self, u: &cdlc_ir::UnfoldOp) -> Result<usize, JitError> {
        let info = match u.source {
            Source::Over(xs) if self.seq_over(xs).is_some() => {
                let (unfold, _) = self.seq_over(xs).expect("matched above");
                UnfoldInfo::Seq(unfold)
            }
            Source::Over(xs) => {
                let Some(Repr::Data(leaf)) = self.reprs[xs.index()] else {
                    return unsupported("an unfold over a computed sequence (not a model input)");
                };
                let Type::Data(d) = &self.func.types[xs] else {
                    return Err(JitError::Internal("unfold over a non-list".into()));
                };
                let mut sizes = Vec::new();
                let elem = self.module.list_element(*d);
                if !elem.is_some_and(|t| tensor_components(t, &mut sizes)) {
                    return unsupported("an unfold over a list whose elements hold structures");
                }
                UnfoldInfo::Over { input: leaf, sizes }
            }
            Source::Take(k) if self.depth > 0 => UnfoldInfo::TakeLocal(k as usize),
            Source::Take(k) => UnfoldInfo::Take(k as usize),
        };
        self.unfolds.push(info);
        Ok(self.unfolds.len() - 1)
    }

    /// The unfold and flattened (buffer, size) components of the computed
    /// sequence `xs`, if it is one (a tuple of sequences for a sequence of
    /// tuples).
    fn seq_over(&self, xs: cdlc_ir::Value) -> Option<(usize, Vec<(usize, usize)>)> {
        self.reprs[xs.index()].as_ref().and_then(rose::seq_parts)
    }

    /// For an unfold inside a region, the unfold (a list of children, or
    /// an unfold over one) whose sequence it reads, so that its steps run
    /// over the region's rows with their lengths (for a stream, `id`
    /// itself: `k` steps for every row); `None` at the top level.
    fn local_source(&self, source: Source, id: usize) -> Result<Option<usize>, JitError> {
        if self.depth == 0 {
            return Ok(None);
        }
        let over = match source {
            Source::Over(xs) => self.reprs[xs.index()].as_ref().and_then(rose::seq_parts),
            Source::Take(_) => return Ok(Some(id)),
        };
        match over {
            Some((u, _)) if self.local_unfolds.contains(&u) => Ok(Some(u)),
            _ => unsupported(
                "an unfold inside a region over anything but a sequence computed in that region",
            ),
        }
    }

    /// Sets a step region's arguments to views: the state, then the list
    /// element for a Mealy unfold.
    pub(super) fn step_args(
        &mut self,
        block: Block,
        state: &Type,
        input: Option<&Type>,
    ) -> Result<(Vec<usize>, Vec<ViewSize>), JitError> {
        let args = self.func.blocks[block].args.clone();
        let (r, state_views) = self.alloc_views(state)?;
        self.set(args[0], r);
        let mut x_views = Vec::new();
        if let Some(t) = input {
            let (r, v) = self.alloc_views(t)?;
            self.set(args[1], r);
            let mut sizes = Vec::new();
            if !tensor_components(t, &mut sizes) {
                return unsupported("an unfold over a list whose elements hold structures");
            }
            x_views = v.into_iter().zip(sizes).collect();
        }
        Ok((state_views, x_views))
    }

    pub(super) fn unfold(
        &mut self,
        u: &cdlc_ir::UnfoldOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let local = self.local_source(u.source, self.unfolds.len())?;
        let id = self.unfold_info(u)?;
        if local.is_some() {
            self.local_unfolds.insert(id);
        }
        // A tuple output is one sequence per tensor, depth first; the IR's
        // verifier admits nothing but tensors and tuples of them.
        let mut out_sizes = Vec::new();
        if !tensor_components(&u.output, &mut out_sizes) {
            return Err(JitError::Internal(
                "an unfold's outputs are built from tensors (verified)".into(),
            ));
        }
        let rinit = self.repr_or_close(u.init, out)?;
        let init = self.flatten(&rinit, out)?;
        let state_ty = self.func.types[u.init].clone();
        let (_, states) = self.alloc(&state_ty)?;
        let input_ty = match u.source {
            Source::Over(xs) => self.module.over_element(&self.func.types[xs]).cloned(),
            Source::Take(_) => None,
        };
        let x_seq = match u.source {
            Source::Over(xs) => self.seq_over(xs).map_or(Vec::new(), |(_, parts)| parts),
            Source::Take(_) => Vec::new(),
        };
        self.unfold_seqs.insert(id, x_seq.clone());
        let (state_views, x_views) = self.step_args(u.body, &state_ty, input_ty.as_ref())?;
        self.depth += 1;
        let mut body = Vec::new();
        self.block(u.body, &mut body)?;
        self.depth -= 1;
        let Repr::Tuple(rs) = self.repr(self.func.blocks[u.body].result.expect("verified"))? else {
            return Err(JitError::Internal("a step yields a pair".into()));
        };
        let result_out = self.flatten(&rs[0], &mut body)?;
        let result_state = self.flatten(&rs[1], &mut body)?;
        let outs: Vec<(usize, usize)> = out_sizes.iter().map(|&n| (self.buf(), n)).collect();
        self.unfold_codes.insert(id, states.clone());
        let flat =
            states.is_empty() && local.is_none() && !x_seq.is_empty() && self.reads_uniform(u.body);
        if flat {
            self.flat_unfolds.insert(id);
        }
        let seq = rose::seq_from(&u.output, id, &mut outs.iter().copied());
        out.push(Instr::Unfold(Box::new(UnfoldCode {
            id,
            init,
            states,
            outs,
            body,
            state_views,
            x_views,
            x_seq,
            local,
            result_out,
            result_state,
            flat,
        })));
        Ok(if u.record {
            Repr::Tuple(vec![seq, Repr::UnfoldTape(id)])
        } else {
            seq
        })
    }

    /// Whether every value the region `body` reads from outside is one row
    /// for the whole batch (a parameter, a constant), so that its steps,
    /// when independent, can run as one over all their rows.
    fn reads_uniform(&self, body: Block) -> bool {
        self.func.free_values(&[body]).iter().all(|v| {
            matches!(
                self.reprs[v.index()],
                Some(Repr::Tensor { batched: false, .. })
                    | Some(Repr::Transposed { batched: false, .. })
            )
        })
    }

    /// The buffers and sizes of an unfold's output cotangent sequence, one
    /// per tensor of the output, as the forward op laid its outputs out.
    fn output_cotangent(
        &mut self,
        u: &cdlc_ir::UnfoldBackwardOp,
        out: &mut Vec<Instr>,
    ) -> Result<Vec<(usize, usize)>, JitError> {
        let r = self.repr_or_close(u.cotangent, out)?;
        let Some((_, parts)) = rose::seq_parts(&r) else {
            return unsupported("unfold_backward of a computed cotangent");
        };
        let mut sizes = Vec::new();
        let fits = tensor_components(&u.output, &mut sizes)
            && sizes.iter().copied().eq(parts.iter().map(|p| p.1));
        if !fits {
            return Err(JitError::Internal(
                "an unfold's output cotangent has the output's tensors".into(),
            ));
        }
        Ok(parts)
    }

    pub(super) fn unfold_backward(
        &mut self,
        u: &cdlc_ir::UnfoldBackwardOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let Repr::UnfoldTape(id) = self.repr(u.tape)? else {
            return unsupported("unfold_backward of a tape it cannot see");
        };
        let local = self.local_unfolds.contains(&id);
        if self.depth > 0 && !local {
            return unsupported("an unfold's backward inside a region over another region's tape");
        }
        let dout = self.output_cotangent(u, out)?;
        let states = self.unfold_codes[&id].clone();
        let (acc, reprs) = self.accumulators(&u.captures)?;
        let (state_views, x_views) = self.step_args(u.body, &u.state, u.input.as_ref())?;
        let args = self.func.blocks[u.body].args.clone();
        let base = if u.input.is_some() { 2 } else { 1 };
        let (r, dv) = self.alloc_views(&u.output)?;
        self.set(args[base], r);
        let (r, dnext_views) = self.alloc_views(&u.state)?;
        self.set(args[base + 1], r);
        let (dinit, dnext) = self.alloc(&u.state)?;
        self.depth += 1;
        // The backward step recomputes the forward step, and its reverse
        // walk need not read all of it (an output head's product, whose
        // gradients read the state and the cotangent): only the ops the
        // step's result depends on are lowered.
        let mut body = Vec::new();
        for v in self.func.live_insts(u.body) {
            let op = self.func.op(v).expect("verified: insts are ops").clone();
            self.op(v, &op, &mut body)?;
        }
        self.close_group(&mut body);
        self.depth -= 1;
        let Repr::Tuple(rs) = self.repr(self.func.blocks[u.body].result.expect("verified"))? else {
            return Err(JitError::Internal("a backward step yields a tuple".into()));
        };
        let result_dstate = self.flatten(&rs[0], &mut body)?;
        let x_seq = self.unfold_seqs.get(&id).cloned().unwrap_or_default();
        let first_cap = 1 + usize::from(u.elements);
        let dx_parts = match (u.elements, x_seq.is_empty()) {
            (false, _) => Vec::new(),
            (true, false) => self.flatten(&rs[1], &mut body)?,
            (true, true) => {
                return unsupported("the element cotangents of an unfold over a model input");
            }
        };
        let mut result_caps = Vec::new();
        for r in &rs[first_cap..] {
            result_caps.push(self.flatten(r, &mut body)?);
        }
        let result_dx: Vec<(Part, usize)> = dx_parts.iter().map(|&p| (p, self.buf())).collect();
        let flat = self.flat_unfolds.contains(&id)
            && acc.iter().all(|a| !a.per_example)
            && self.reads_uniform(u.body);
        out.push(Instr::UnfoldBackward(Box::new(UnfoldBackCode {
            id,
            states,
            dout,
            dnext,
            body,
            state_views,
            x_views,
            dout_views: dv,
            dnext_views,
            result_dstate,
            result_caps,
            acc,
            x_seq: x_seq.clone(),
            result_dx: result_dx.clone(),
            local,
            flat,
        })));
        let mut all = vec![dinit];
        all.extend(reprs);
        if let (false, Some(elem)) = (result_dx.is_empty(), u.input.as_ref()) {
            // One sequence per tensor of the element, as the forward read.
            let mut parts = result_dx
                .iter()
                .zip(&x_seq)
                .map(|(&(_, b), &(_, s))| (b, s));
            all.push(rose::seq_from(elem, id, &mut parts));
        }
        Ok(Repr::Tuple(all))
    }
}
