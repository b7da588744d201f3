//! Decoding a JSON document against a data type, with a stack of pending
//! work instead of recursion, so a value of any depth decodes in time and
//! memory linear in its size.
//!
//! Each pending `Decode` turns one JSON node into one `Value` on the value
//! stack; a container first schedules its assembly (`Tuple`, `List`,
//! `Ctor`) and then its elements, last element first, so that the elements
//! are decoded in document order (the first mismatch in the text is the one
//! reported) and their values lie in order on the value stack when the
//! assembly runs. Paths and scopes are links (`super::super::links`), so a
//! deep path costs nothing until a mismatch renders it.

use super::describe;
use crate::data::Mismatch;
use crate::data::json::{Document, Kind, NodeId};
use crate::data::links::{PathId, Paths, ScopeId, Scopes};
use crate::value::{DataDecl, DataType, LIST_CONS, LIST_NIL, Tensor, Value};

/// Decodes node `root` of `doc` as a value of type `ty`; paths in errors
/// start at `root_name`.
pub(super) fn decode(
    doc: &Document<'_>,
    root: NodeId,
    ty: &DataType,
    root_name: &'static str,
) -> Result<Value, Mismatch> {
    let paths = Paths::new(root_name);
    let mut d = Decoder {
        doc,
        tasks: vec![Task::Decode {
            node: root,
            ty,
            scope: None,
            path: paths.root(),
        }],
        paths,
        scopes: Scopes::default(),
        values: Vec::new(),
    };
    d.run()
}

/// One piece of pending work.
enum Task<'t> {
    /// Decode `node` as a value of type `ty` inside `scope`, at `path`.
    Decode {
        node: NodeId,
        ty: &'t DataType,
        scope: Option<ScopeId>,
        path: PathId,
    },
    /// Replace the top `n` values with a tuple of them.
    Tuple(usize),
    /// Replace the top `n` values with the list of them.
    List(usize),
    /// Replace the top `n` values with a node of constructor `ctor`.
    Ctor { ctor: u32, n: usize },
}

struct Decoder<'d, 'a, 't> {
    doc: &'d Document<'a>,
    tasks: Vec<Task<'t>>,
    paths: Paths<'t>,
    scopes: Scopes<'t>,
    values: Vec<Value>,
}

impl<'t> Decoder<'_, '_, 't> {
    fn run(&mut self) -> Result<Value, Mismatch> {
        while let Some(task) = self.tasks.pop() {
            match task {
                Task::Decode {
                    node,
                    ty,
                    scope,
                    path,
                } => self.decode(node, ty, scope, path)?,
                Task::Tuple(n) => {
                    let items = self.take(n);
                    self.values.push(Value::Tuple(items));
                }
                Task::List(n) => {
                    let items = self.take(n);
                    self.values.push(list(items));
                }
                Task::Ctor { ctor, n } => {
                    let fields = self.take(n);
                    self.values.push(Value::Node { ctor, fields });
                }
            }
        }
        Ok(self
            .values
            .pop()
            .expect("the root's decoding leaves one value"))
    }

    /// The top `n` values, in the order they were pushed.
    fn take(&mut self, n: usize) -> Vec<Value> {
        self.values.split_off(self.values.len() - n)
    }

    fn decode(
        &mut self,
        node: NodeId,
        ty: &'t DataType,
        scope: Option<ScopeId>,
        path: PathId,
    ) -> Result<(), Mismatch> {
        match ty {
            DataType::Tensor(shape) => {
                let mut data = Vec::new();
                let mut suffix = Vec::new();
                tensor_data(self.doc, node, shape, &mut suffix, &mut data)
                    .map_err(|(expected, found)| self.at_suffix(path, &suffix, expected, found))?;
                self.values
                    .push(Value::Tensor(Tensor::new(shape.clone(), data)));
                Ok(())
            }
            DataType::Tuple(ts) => match self.doc.node(node).kind {
                Kind::Array(n) if n == ts.len() => {
                    self.tasks.push(Task::Tuple(n));
                    let items: Vec<NodeId> = self.doc.children(node).collect();
                    for (i, (&item, t)) in items.iter().zip(ts).enumerate().rev() {
                        let path = self.paths.index(path, i);
                        self.tasks.push(Task::Decode {
                            node: item,
                            ty: t,
                            scope,
                            path,
                        });
                    }
                    Ok(())
                }
                _ => Err(self.paths.mismatch(
                    path,
                    format!(
                        "{} (an array of {})",
                        self.scopes.named(&ty.to_string(), scope),
                        ts.len()
                    ),
                    describe(self.doc, node),
                )),
            },
            DataType::Data(decl) => {
                let inner = self.scopes.enter(decl, scope);
                self.decode_node(node, inner, path)
            }
            DataType::Rec(k) => match self.scopes.up(scope, *k) {
                Some(s) => self.decode_node(node, s, path),
                None => {
                    Err(self
                        .paths
                        .mismatch(path, ty, "a recursive position outside its data type"))
                }
            },
        }
    }

    /// A value of the data type `scope` is inside: an array for a list, or
    /// `{"constructor": [arguments...]}`.
    fn decode_node(&mut self, node: NodeId, scope: ScopeId, path: PathId) -> Result<(), Mismatch> {
        let decl = self.scopes.decl(scope);
        let doc = self.doc;
        let n = doc.node(node);
        match n.kind {
            Kind::Array(len) if decl.is_list() => {
                let elem = &decl.ctors[LIST_CONS as usize].fields[0];
                self.tasks.push(Task::List(len));
                let items: Vec<NodeId> = doc.children(node).collect();
                for (i, &item) in items.iter().enumerate().rev() {
                    let path = self.paths.index(path, i);
                    self.tasks.push(Task::Decode {
                        node: item,
                        ty: elem,
                        scope: Some(scope),
                        path,
                    });
                }
                Ok(())
            }
            Kind::Object(1) => {
                let args = doc
                    .children(node)
                    .next()
                    .expect("an object of 1 has a member");
                let name = doc.node(args).key.as_deref().expect("a member has a key");
                self.constructor(decl, name, args, scope, path)
            }
            _ => Err(self.paths.mismatch(
                path,
                constructors(decl, &self.written(scope)),
                describe(doc, node),
            )),
        }
    }

    /// The constructor `name` of `decl` applied to the array `args`.
    fn constructor(
        &mut self,
        decl: &'t DataDecl,
        name: &str,
        args: NodeId,
        scope: ScopeId,
        path: PathId,
    ) -> Result<(), Mismatch> {
        let Some((index, ctor)) = decl.ctors.iter().enumerate().find(|(_, c)| c.name == name)
        else {
            return Err(self.paths.mismatch(
                path,
                constructors(decl, &self.written(scope)),
                format!("constructor `{}`", super::super::shortened(name)),
            ));
        };
        let n = ctor.fields.len();
        match self.doc.node(args).kind {
            Kind::Array(len) if len == n => {}
            Kind::Array(len) => {
                return Err(self.paths.mismatch(
                    path,
                    format!("{n} argument(s) for `{name}`"),
                    format!("{len}"),
                ));
            }
            _ => {
                return Err(self.paths.mismatch(
                    path,
                    format!("the arguments of `{name}` as an array of {n}"),
                    describe(self.doc, args),
                ));
            }
        }
        self.tasks.push(Task::Ctor {
            ctor: index as u32,
            n,
        });
        let items: Vec<NodeId> = self.doc.children(args).collect();
        for (i, (&item, t)) in items.iter().zip(&ctor.fields).enumerate().rev() {
            let path = self.paths.field(path, &ctor.name, i);
            self.tasks.push(Task::Decode {
                node: item,
                ty: t,
                scope: Some(scope),
                path,
            });
        }
        Ok(())
    }

    /// The name of the data type of `scope` as written where it sits, its
    /// recursive positions named (`Scopes::named`).
    fn written(&self, scope: ScopeId) -> String {
        let decl = self.scopes.decl(scope);
        self.scopes
            .named(&decl.name, self.scopes.up(Some(scope), 1))
    }

    /// A mismatch inside a tensor: the tensor's path followed by the
    /// indices `suffix`.
    fn at_suffix(
        &self,
        path: PathId,
        suffix: &[usize],
        expected: String,
        found: String,
    ) -> Mismatch {
        let mut m = self.paths.mismatch(path, expected, found);
        for i in suffix {
            m.path += &format!("[{i}]");
        }
        m
    }
}

/// The list of `items` as a `nil`/`cons` chain.
fn list(items: Vec<Value>) -> Value {
    let mut list = Value::Node {
        ctor: LIST_NIL,
        fields: Vec::new(),
    };
    for v in items.into_iter().rev() {
        list = Value::Node {
            ctor: LIST_CONS,
            fields: vec![v, list],
        };
    }
    list
}

/// Appends the numbers of `node`, a nested array of shape `shape`, to
/// `out`. It recurses once per axis of the expected shape, a depth the type
/// bounds; on a mismatch `suffix` holds the indices down to the bad value,
/// and the error is the expected type and what was found.
pub(super) fn tensor_data(
    doc: &Document<'_>,
    node: NodeId,
    shape: &[usize],
    suffix: &mut Vec<usize>,
    out: &mut Vec<f64>,
) -> Result<(), (String, String)> {
    let expected = || DataType::Tensor(shape.to_vec()).to_string();
    let n = doc.node(node);
    match (shape.split_first(), &n.kind) {
        (None, Kind::Number(_)) => match n.as_f64() {
            Some(v) => match crate::data::bad_number(v) {
                None => {
                    out.push(v);
                    Ok(())
                }
                Some(why) => Err((expected(), why)),
            },
            None => Err((expected(), describe(doc, node))),
        },
        (Some((&d, rest)), Kind::Array(len)) if *len == d => {
            for (i, item) in doc.children(node).enumerate() {
                suffix.push(i);
                tensor_data(doc, item, rest, suffix, out)?;
                suffix.pop();
            }
            Ok(())
        }
        _ => Err((expected(), describe(doc, node))),
    }
}

/// `List(R[2]) (an array, or one of {"nil": [...]}, {"cons": [...]})`.
fn constructors(decl: &DataDecl, name: &str) -> String {
    let ctors: Vec<String> = decl
        .ctors
        .iter()
        .map(|c| format!("{{\"{}\": [...]}}", c.name))
        .collect();
    let list = if decl.is_list() { "an array, or " } else { "" };
    format!("{name} ({list}one of {})", ctors.join(", "))
}
