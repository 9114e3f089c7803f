//! A strict reader for PyTorch `torch.save` files (the zip format of
//! torch >= 1.6: `<name>/data.pkl`, `<name>/data/<key>` storages,
//! `<name>/byteorder`), limited to what state dicts and training checkpoints
//! contain.
//!
//! The pickle is *interpreted*, never executed: only the opcodes that
//! `torch.save` emits (protocols 2 to 4) are understood, and only an
//! allow-list of globals may appear (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter[_with_state]`
//! and the typed `torch.*Storage` classes). Any other global (a pickled
//! `nn.Module`, numpy scalars, arbitrary callables) is refused with an error
//! naming it. `BUILD` states are discarded. Tensors are rebuilt from their
//! storage with offset, sizes and strides, so views and non-contiguous
//! tensors come out right.
//!
//! TorchScript archives (`constants.pkl`, `code/`) are refused with a clear
//! message: their buffers (BatchNorm statistics) are not reachable as named
//! parameters, so loading them here could not give an identical model.

use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use tch::{Kind, Tensor};

/// Tensors with their state-dict names, in file order.
pub type NamedTensors = Vec<(String, Tensor)>;

/// A tensor as the pickle describes it: a view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

/// A persistent-id storage reference: `('storage', torch.FloatStorage, key, location, numel)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// The storage class name, e.g. `FloatStorage`.
    pub dtype: String,
    pub key: String,
    pub numel: i64,
}

/// A value of the restricted pickle language.
#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    /// Dicts and OrderedDicts, in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// An allow-listed global, `module.name`.
    Global(String),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }

    fn as_int(&self, what: &str) -> std::result::Result<i64, String> {
        match self {
            Value::Int(i) => Ok(*i),
            other => Err(format!("{what}: expected an int, got {}", other.type_name())),
        }
    }

    fn as_ints(&self, what: &str) -> std::result::Result<Vec<i64>, String> {
        let items: Vec<Value> = match self {
            Value::Tuple(t) => t.as_ref().clone(),
            Value::List(l) => l.borrow().clone(),
            other => return Err(format!("{what}: expected a tuple of ints, got {}", other.type_name())),
        };
        items.iter().map(|v| v.as_int(what)).collect()
    }
}

/// Globals that may appear in a state dict or checkpoint.
const ALLOWED_FUNCTIONS: [&str; 4] = [
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
];

/// Storage classes and their element kinds.
fn storage_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "FloatStorage" => Kind::Float,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "DoubleStorage" => Kind::Double,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ShortStorage" => Kind::Int16,
        "CharStorage" => Kind::Int8,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        _ => return None,
    })
}

fn check_global(module: &str, name: &str) -> std::result::Result<String, String> {
    let full = format!("{module}.{name}");
    if ALLOWED_FUNCTIONS.contains(&full.as_str()) || (module == "torch" && storage_kind(name).is_some()) {
        Ok(full)
    } else {
        Err(format!(
            "the pickle refers to the Python global '{full}', which a state dict does not need; \
             refusing to load it (save `model.state_dict()` rather than the model object)"
        ))
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.data.len() - self.pos < n {
            return Err("the pickle ends early".into());
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> std::result::Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn line(&mut self) -> std::result::Result<String, String> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or("unterminated line in the pickle")?;
        self.pos += end + 1;
        String::from_utf8(rest[..end].to_vec()).map_err(|_| "a global name is not UTF-8".to_string())
    }
    fn utf8(&mut self, n: usize) -> std::result::Result<String, String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not valid UTF-8".to_string())
    }
}

/// Interprets a pickle under the restrictions described in the module docs.
pub fn unpickle(data: &[u8]) -> std::result::Result<Value, String> {
    let mut r = Reader { data, pos: 0 };
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    fn pop(stack: &mut Vec<Value>) -> std::result::Result<Value, String> {
        stack.pop().ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn pop_mark(stack: &mut Vec<Value>, marks: &mut Vec<usize>) -> std::result::Result<Vec<Value>, String> {
        let m = marks.pop().ok_or("pickle MARK missing")?;
        if m > stack.len() {
            return Err("pickle MARK beyond the stack".into());
        }
        Ok(stack.split_off(m))
    }
    fn top(stack: &[Value]) -> std::result::Result<&Value, String> {
        stack.last().ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn set_items(target: &Value, items: Vec<Value>) -> std::result::Result<(), String> {
        let Value::Dict(d) = target else { return Err(format!("SETITEM(S) on a {}", target.type_name())) };
        if !items.len().is_multiple_of(2) {
            return Err("SETITEMS with an odd number of items".into());
        }
        let mut d = d.borrow_mut();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            // Later assignments replace earlier ones, as in Python.
            if let Value::Str(ks) = &k {
                if let Some(slot) = d.iter_mut().find(|(e, _)| matches!(e, Value::Str(s) if s == ks)) {
                    slot.1 = v;
                    continue;
                }
            }
            d.push((k, v));
        }
        Ok(())
    }
    fn append(target: &Value, items: Vec<Value>) -> std::result::Result<(), String> {
        let Value::List(l) = target else { return Err(format!("APPEND(S) on a {}", target.type_name())) };
        l.borrow_mut().extend(items);
        Ok(())
    }
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                let proto = r.u8()?;
                if proto > 5 {
                    return Err(format!("unsupported pickle protocol {proto}"));
                }
            }
            0x95 => {
                r.u64()?; // FRAME: a length hint only
            }
            b'.' => return pop(&mut stack),
            b'(' => marks.push(stack.len()),
            b'}' => stack.push(Value::Dict(Default::default())),
            b']' => stack.push(Value::List(Default::default())),
            b')' => stack.push(Value::Tuple(Rc::new(Vec::new()))),
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let d = Value::Dict(Default::default());
                set_items(&d, items)?;
                stack.push(d);
            }
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(Rc::new(RefCell::new(items))));
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(Rc::new(items)));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(Rc::new(items)));
            }
            b'N' => stack.push(Value::None),
            b'0' => {
                pop(&mut stack)?;
            }
            b'1' => {
                pop_mark(&mut stack, &mut marks)?;
            }
            b'2' => stack.push(top(&stack)?.clone()),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'J' => stack.push(Value::Int(r.u32()? as i32 as i64)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(r.u16()? as i64)),
            0x8a => {
                let n = r.u8()? as usize;
                let bytes = r.take(n)?;
                if n > 8 {
                    return Err(format!("integer of {n} bytes is too large"));
                }
                let mut v: i64 = 0;
                for (i, b) in bytes.iter().enumerate() {
                    v |= (*b as i64) << (8 * i);
                }
                if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => stack.push(Value::Float(f64::from_be_bytes(r.take(8)?.try_into().unwrap()))),
            b'X' => {
                let n = r.u32()? as usize;
                stack.push(Value::Str(r.utf8(n)?));
            }
            0x8c => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(r.utf8(n)?));
            }
            0x8d => {
                let n = r.u64()? as usize;
                stack.push(Value::Str(r.utf8(n)?));
            }
            // BINSTRING / SHORT_BINSTRING: Python 2 str, read as latin-1.
            b'T' | b'U' => {
                let n = if op == b'T' { r.u32()? as usize } else { r.u8()? as usize };
                stack.push(Value::Str(r.take(n)?.iter().map(|&b| b as char).collect()));
            }
            b'B' | b'C' => {
                let n = if op == b'B' { r.u32()? as usize } else { r.u8()? as usize };
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Value::Global(check_global(&module, &name)?));
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => stack.push(Value::Global(check_global(&m, &n)?)),
                    _ => return Err("STACK_GLOBAL needs two strings".into()),
                }
            }
            b'q' => {
                let i = r.u8()? as u32;
                memo.insert(i, top(&stack)?.clone());
            }
            b'r' => {
                let i = r.u32()?;
                memo.insert(i, top(&stack)?.clone());
            }
            0x94 => {
                let i = memo.len() as u32;
                memo.insert(i, top(&stack)?.clone());
            }
            b'h' | b'j' => {
                let i = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                stack.push(memo.get(&i).cloned().ok_or_else(|| format!("pickle memo {i} is not set"))?);
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(persistent_load(&pid)?);
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let func = pop(&mut stack)?;
                stack.push(reduce(&func, &args)?);
            }
            b'b' => {
                // The state of an object (e.g. a state dict's `_metadata`):
                // not needed, and never applied.
                pop(&mut stack)?;
                top(&stack)?;
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                set_items(top(&stack)?, vec![k, v])?;
            }
            b'u' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                set_items(top(&stack)?, items)?;
            }
            b'a' => {
                let v = pop(&mut stack)?;
                append(top(&stack)?, vec![v])?;
            }
            b'e' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                append(top(&stack)?, items)?;
            }
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}; only plain state dicts and checkpoints are read",
                    r.pos - 1
                ))
            }
        }
    }
}

fn persistent_load(pid: &Value) -> std::result::Result<Value, String> {
    let Value::Tuple(t) = pid else { return Err(format!("persistent id is a {}, expected a tuple", pid.type_name())) };
    match t.as_slice() {
        [Value::Str(tag), Value::Global(class), Value::Str(key), _location, numel] if tag == "storage" => {
            let dtype = class.strip_prefix("torch.").filter(|n| storage_kind(n).is_some()).ok_or_else(|| format!("'{class}' is not a storage class"))?;
            Ok(Value::Storage(Rc::new(StorageRef { dtype: dtype.to_string(), key: key.clone(), numel: numel.as_int("storage size")? })))
        }
        _ => Err("unrecognised persistent id (expected ('storage', type, key, location, numel))".into()),
    }
}

fn reduce(func: &Value, args: &Value) -> std::result::Result<Value, String> {
    let Value::Global(name) = func else { return Err(format!("REDUCE on a {}, expected a global", func.type_name())) };
    let Value::Tuple(args) = args else { return Err(format!("REDUCE arguments are a {}, expected a tuple", args.type_name())) };
    match name.as_str() {
        "collections.OrderedDict" => {
            let d = Value::Dict(Default::default());
            if let Some(items) = args.first() {
                let Value::List(items) = items else { return Err("OrderedDict(...) with a non-list argument".into()) };
                let Value::Dict(dd) = &d else { unreachable!() };
                for pair in items.borrow().iter() {
                    match pair {
                        Value::Tuple(p) if p.len() == 2 => dd.borrow_mut().push((p[0].clone(), p[1].clone())),
                        _ => return Err("OrderedDict(...) item is not a pair".into()),
                    }
                }
            }
            Ok(d)
        }
        "torch._utils._rebuild_tensor_v2" => {
            if args.len() < 4 {
                return Err("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)".into());
            }
            let Value::Storage(storage) = &args[0] else { return Err("_rebuild_tensor_v2 without a storage".into()) };
            let offset = args[1].as_int("storage offset")?;
            let size = args[2].as_ints("tensor size")?;
            let stride = args[3].as_ints("tensor stride")?;
            if size.len() != stride.len() || offset < 0 || size.iter().any(|&s| s < 0) || stride.iter().any(|&s| s < 0) {
                return Err(format!("invalid tensor geometry: offset {offset}, size {size:?}, stride {stride:?}"));
            }
            // The last element the view touches must lie inside the storage.
            if !size.contains(&0) {
                let last = offset + size.iter().zip(&stride).map(|(s, st)| (s - 1) * st).sum::<i64>();
                if last >= storage.numel {
                    return Err(format!(
                        "tensor view (offset {offset}, size {size:?}, stride {stride:?}) exceeds its storage of {} elements",
                        storage.numel
                    ));
                }
            }
            Ok(Value::Tensor(Rc::new(TensorRef { storage: storage.as_ref().clone(), offset, size, stride })))
        }
        "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => match args.first() {
            Some(t @ Value::Tensor(_)) => Ok(t.clone()),
            _ => Err(format!("{name} without a tensor")),
        },
        other => Err(format!("'{other}' cannot be called")),
    }
}

/// The content of a `torch.save` zip: its unpickled value and its storages.
pub struct TorchFile {
    pub value: Value,
    storages: HashMap<String, Tensor>,
}

impl TorchFile {
    /// The tch tensor for a pickled tensor reference, contiguous.
    pub fn tensor(&self, t: &TensorRef) -> std::result::Result<Tensor, String> {
        let storage = self.storages.get(&t.storage.key).ok_or_else(|| format!("storage {} is missing", t.storage.key))?;
        let view = storage.f_as_strided(t.size.as_slice(), t.stride.as_slice(), Some(t.offset)).map_err(|e| e.to_string())?;
        Ok(view.contiguous())
    }
}

/// True when `bytes` start like a zip archive.
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Reads a `torch.save` zip archive. Refuses TorchScript archives, legacy
/// (pre-1.6) pickles and big-endian files.
pub fn read_torch_zip(path: &Path) -> Result<TorchFile> {
    let fail = |m: String| Error::data(path, m);
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| fail(format!("not a PyTorch zip archive: {e}")))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let pkl = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| fail("a zip archive without <name>/data.pkl: not a torch.save file".into()))?
        .clone();
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    if names.iter().any(|n| n == &format!("{prefix}constants.pkl") || n.starts_with(&format!("{prefix}code/"))) {
        return Err(fail(
            "this is a TorchScript model (such as a model folder's model.pt), not a state dict; \
             use the model folder's weights (.safetensors) or a file saved with torch.save(model.state_dict())"
                .into(),
        ));
    }
    let read = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| -> Result<Vec<u8>> {
        let mut entry = zip.by_name(name).map_err(|e| fail(format!("{name}: {e}")))?;
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf).map_err(|e| fail(format!("{name}: {e}")))?;
        Ok(buf)
    };
    if names.iter().any(|n| n == &format!("{prefix}byteorder")) {
        let order = read(&mut zip, &format!("{prefix}byteorder"))?;
        if order.trim_ascii() != b"little" {
            return Err(fail(format!("byte order '{}' is not supported", String::from_utf8_lossy(&order))));
        }
    }
    let pickle = read(&mut zip, &pkl)?;
    let value = unpickle(&pickle).map_err(|m| fail(format!("cannot read the pickle: {m}")))?;
    // Load each referenced storage once; tensors may share one.
    let mut refs: Vec<StorageRef> = Vec::new();
    if let Err(m) = collect_storages(&value, &mut refs, 0) {
        // Dropping a very deep structure would recurse as deeply: leak it instead.
        std::mem::forget(value);
        return Err(fail(format!("cannot read the pickle: {m}")));
    }
    let mut storages = HashMap::new();
    for s in refs {
        if storages.contains_key(&s.key) {
            continue;
        }
        let kind = storage_kind(&s.dtype).expect("checked when reading the pickle");
        let bytes = read(&mut zip, &format!("{prefix}data/{}", s.key))?;
        let need = usize::try_from(s.numel)
            .ok()
            .and_then(|n| n.checked_mul(kind.elt_size_in_bytes()))
            .ok_or_else(|| fail(format!("storage {} has an invalid size {}", s.key, s.numel)))?;
        if bytes.len() < need {
            return Err(fail(format!("storage {} has {} bytes, {need} expected", s.key, bytes.len())));
        }
        let t = Tensor::f_from_data_size(&bytes[..need], &[s.numel], kind).map_err(|e| fail(e.to_string()))?;
        storages.insert(s.key.clone(), t);
    }
    Ok(TorchFile { value, storages })
}

/// Nesting deeper than this is refused: state dicts and checkpoints are
/// shallow, and it bounds the recursion over self-referencing pickles.
const MAX_DEPTH: usize = 64;

fn collect_storages(v: &Value, out: &mut Vec<StorageRef>, depth: usize) -> std::result::Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nest deeper than {MAX_DEPTH} levels (or refer to themselves)"));
    }
    match v {
        Value::Tensor(t) => out.push(t.storage.clone()),
        Value::Tuple(t) => t.iter().try_for_each(|x| collect_storages(x, out, depth + 1))?,
        Value::List(l) => l.borrow().iter().try_for_each(|x| collect_storages(x, out, depth + 1))?,
        Value::Dict(d) => d.borrow().iter().try_for_each(|(_, x)| collect_storages(x, out, depth + 1))?,
        _ => {}
    }
    Ok(())
}

/// Keys under which checkpoints commonly keep the model's state dict, in the
/// order tried; the Python extension keeps the best epoch's weights under
/// `best_model_state` beside the last epoch's `model_state_dict`.
const NESTED_KEYS: [&str; 7] = ["best_model_state", "state_dict", "model_state_dict", "model", "module", "net", "network"];

/// The named tensors of a `torch.save` file: the state dict itself, or the
/// one nested in a checkpoint dict. Returns the tensors and notes on what was
/// unwrapped or skipped.
pub fn state_dict(path: &Path) -> Result<(NamedTensors, Vec<String>)> {
    let file = read_torch_zip(path)?;
    let fail = |m: String| Error::data(path, m);
    let mut notes = Vec::new();
    let is_tensor_dict = |v: &Value| match v {
        Value::Dict(d) => {
            let d = d.borrow();
            !d.is_empty() && d.iter().any(|(_, x)| matches!(x, Value::Tensor(_)))
        }
        _ => false,
    };
    let lookup = |v: &Value, key: &str| -> Option<Value> {
        let Value::Dict(d) = v else { return None };
        let found = d.borrow().iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, x)| x.clone());
        found
    };
    let mut chosen = file.value.clone();
    let mut nested = None;
    for key in NESTED_KEYS {
        if let Some(inner) = lookup(&file.value, key).filter(is_tensor_dict) {
            nested = Some((key, inner));
            break;
        }
    }
    if let Some((key, inner)) = nested {
        let Value::Dict(top) = &file.value else { unreachable!() };
        let others: Vec<String> = top
            .borrow()
            .iter()
            .filter_map(|(k, _)| match k {
                Value::Str(s) if s != key => Some(s.clone()),
                _ => None,
            })
            .collect();
        notes.push(format!("took the state dict under the checkpoint key '{key}' (ignored: {})", others.join(", ")));
        chosen = inner;
    } else if !is_tensor_dict(&chosen) {
        return Err(fail(format!(
            "no state dict found: the file holds a {} without tensors at its top level or under any of {NESTED_KEYS:?}",
            chosen.type_name()
        )));
    }
    let Value::Dict(d) = &chosen else { unreachable!() };
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (k, v) in d.borrow().iter() {
        match (k, v) {
            (Value::Str(name), Value::Tensor(t)) => out.push((name.clone(), file.tensor(t).map_err(|e| fail(format!("{name}: {e}")))?)),
            (Value::Str(name), _) => skipped.push(name.clone()),
            (other, _) => skipped.push(format!("<{} key>", other.type_name())),
        }
    }
    if !skipped.is_empty() {
        notes.push(format!("skipped non-tensor entries: {}", skipped.join(", ")));
    }
    Ok((out, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(OrderedDict(a=1), protocol=2)`-like stream built by hand.
    fn ordered_dict_pickle() -> Vec<u8> {
        let mut p = vec![0x80, 2];
        p.extend(b"ccollections\nOrderedDict\nq\x00)Rq\x01");
        p.extend(b"(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00b");
        p.extend(b"]q\x02(G?\xf0\x00\x00\x00\x00\x00\x00(\x88N\x8a\x02\x00\xfftq\x03h\x03\x86e"); 
        p.extend(b"u}q\x04bh\x02.");
        p
    }

    #[test]
    fn reads_containers_numbers_and_memo() {
        let v = unpickle(&ordered_dict_pickle()).unwrap();
        // The last value pushed is memo 2: the list.
        let Value::List(l) = v else { panic!("{v:?}") };
        let l = l.borrow();
        assert!(matches!(l[0], Value::Float(f) if f == 1.0));
        // [1.0, ((True, None, -256), (True, None, -256))], as Python's pickle.loads reads it.
        let Value::Tuple(pair) = &l[1] else { panic!() };
        let Value::Tuple(t) = &pair[1] else { panic!() };
        assert!(matches!(t[0], Value::Bool(true)) && matches!(t[1], Value::None) && matches!(t[2], Value::Int(-256)));
        assert_eq!(pair.len(), 2);
    }

    #[test]
    fn dict_built_after_memoization_is_shared() {
        // d = {}; memo; d['x'] = 1; then fetch d from the memo.
        let p = b"\x80\x02}q\x00X\x01\x00\x00\x00xK\x01s0h\x00.";
        let v = unpickle(p).unwrap();
        let Value::Dict(d) = v else { panic!() };
        assert_eq!(d.borrow().len(), 1);
    }

    #[test]
    fn forbidden_globals_are_refused_by_name() {
        let p = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.";
        let err = unpickle(p).unwrap_err();
        assert!(err.contains("'os.system'"), "{err}");
        let p = b"\x80\x02\x8c\x08builtins\x8c\x04eval\x93.";
        assert!(unpickle(p).unwrap_err().contains("'builtins.eval'"));
        let p = b"\x80\x02ctorch.nn.modules.conv\nConv2d\n.";
        assert!(unpickle(p).unwrap_err().contains("torch.nn.modules.conv.Conv2d"));
    }

    fn tensor_pickle(offset: u8) -> Vec<u8> {
        let mut p = vec![0x80, 2];
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend(b"(X\x07\x00\x00\x00storagectorch\nHalfStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ");
        p.extend([b'K', offset]);
        p.extend(b"K\x02K\x02\x86K\x01K\x02\x86\x89ccollections\nOrderedDict\n)RtR.");
        p
    }

    #[test]
    fn tensors_are_views_of_persistent_storages() {
        let Value::Tensor(t) = unpickle(&tensor_pickle(1)).unwrap() else { panic!() };
        assert_eq!(t.storage, StorageRef { dtype: "HalfStorage".into(), key: "0".into(), numel: 6 });
        assert_eq!((t.offset, t.size.clone(), t.stride.clone()), (1, vec![2, 2], vec![1, 2]));
        // A view past the end of its storage is refused.
        let err = unpickle(&tensor_pickle(3)).unwrap_err();
        assert!(err.contains("exceeds its storage"), "{err}");
    }

    #[test]
    fn self_referencing_values_are_refused_not_recursed_forever() {
        // l = []; l.append(l)
        let v = unpickle(b"\x80\x02]q\x00h\x00a.").unwrap();
        let mut refs = Vec::new();
        let err = collect_storages(&v, &mut refs, 0).unwrap_err();
        assert!(err.contains("deeper than"), "{err}");
        std::mem::forget(v);
    }

    #[test]
    fn unknown_opcodes_and_truncation_are_errors() {
        assert!(unpickle(b"\x80\x02\xff.").unwrap_err().contains("unsupported pickle opcode 0xff"));
        assert!(unpickle(b"\x80\x02X\x10\x00\x00\x00ab").unwrap_err().contains("ends early"));
        assert!(unpickle(b"\x80\x02h\x05.").unwrap_err().contains("memo 5"));
    }
}
