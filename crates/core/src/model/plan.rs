//! The compact fast path for the shipped model family: an int8 weight-only MLP (hidden
//! Gemm + Relu layers, head `a` linear, head `b` softplus, optional head `c` sigmoid), lowered from its ONNX graph into
//! layer shapes, int8 weights and per-output-channel scales, and run by a small kernel.
//! tract-onnx stays the reference: `lower` accepts only the exact graph `train::onnx`
//! writes, and `BehaviourModel::load` keeps the plan only when it agrees with tract on test
//! vectors. Layout invariant: weights are stored output-major (`q[j * inputs + i]`), as
//! bundles carry them; `kernel` regroups them once for its arithmetic.

#[cfg(feature = "tract")]
use prost::Message;
#[cfg(feature = "tract")]
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto, tensor_proto::DataType};

use super::heads::Heads;
#[cfg(feature = "tract")]
use super::heads::{INPUT_NAME, OUTPUT_A, OUTPUT_B, OUTPUT_C};
use super::kernel::KernelCache;

/// Version of the lowering and the kernel's arithmetic (`kernel`'s order of operations): 1
/// for two heads (`a`, `b`), 2 when the plan also has the ceiling head `c`. The summation
/// order is the same in both, so a two-head plan encodes, and prices, exactly as before
/// version 2 existed.
pub const PLAN_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct PlanDense {
    pub inputs: usize,
    pub outputs: usize,
    /// Output-major int8 weights (what bundles carry).
    pub q: Vec<i8>,
    pub scale: Vec<f32>,
    pub bias: Vec<f32>,
}

impl PlanDense {
    pub fn new(inputs: usize, outputs: usize, q: Vec<i8>, scale: Vec<f32>, bias: Vec<f32>) -> Self {
        PlanDense { inputs, outputs, q, scale, bias }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub hidden: Vec<PlanDense>,
    pub head_a: PlanDense,
    pub head_b: PlanDense,
    /// The ceiling head (before its sigmoid), in price-response form 2.
    pub head_c: Option<PlanDense>,
    /// The weights regrouped for the kernels (widened to f32 once: exact for int8), at the
    /// first run.
    pub kernel: KernelCache,
}

#[cfg(feature = "tract")]
fn tensor<'a>(m: &'a ModelProto, name: &str) -> Option<&'a TensorProto> {
    m.graph.as_ref()?.initializer.iter().find(|t| t.name == name)
}

#[cfg(feature = "tract")]
fn f32s(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != DataType::Float as i32 {
        return None;
    }
    if !t.float_data.is_empty() {
        return Some(t.float_data.clone());
    }
    Some(t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[cfg(feature = "tract")]
fn i8s(t: &TensorProto) -> Option<Vec<i8>> {
    (t.data_type == DataType::Int8 as i32).then(|| t.raw_data.iter().map(|b| *b as i8).collect())
}

#[cfg(feature = "tract")]
fn producer<'a>(nodes: &'a [NodeProto], output: &str) -> Option<&'a NodeProto> {
    nodes.iter().find(|n| n.output.iter().any(|o| o == output))
}

/// One Gemm(x, DequantizeLinear(q, scale, 0, axis=1), bias) whose output is `output`.
#[cfg(feature = "tract")]
fn dense(m: &ModelProto, nodes: &[NodeProto], output: &str) -> Option<(PlanDense, String)> {
    let gemm =
        producer(nodes, output).filter(|n| n.op_type == "Gemm" && n.input.len() == 3 && n.attribute.is_empty())?;
    let dq = producer(nodes, &gemm.input[1]).filter(|n| n.op_type == "DequantizeLinear" && n.input.len() == 3)?;
    if dq.attribute.iter().any(|a| a.name != "axis" || a.i != 1) {
        return None;
    }
    let q = tensor(m, &dq.input[0])?;
    let (inputs, outputs) = match q.dims[..] {
        [i, o] if i > 0 && o > 0 && i <= 4096 && o <= 4096 => (i as usize, o as usize),
        _ => return None,
    };
    let q = i8s(q)?;
    let scale = f32s(tensor(m, &dq.input[1])?)?;
    let zero = i8s(tensor(m, &dq.input[2])?)?;
    let bias = f32s(tensor(m, &gemm.input[2])?)?;
    if q.len() != inputs * outputs || scale.len() != outputs || bias.len() != outputs || zero.iter().any(|z| *z != 0) {
        return None;
    }
    if scale.iter().chain(&bias).any(|v| !v.is_finite()) {
        return None;
    }
    // ONNX stores [inputs][outputs]; the kernel wants output-major rows.
    let mut t = vec![0i8; q.len()];
    for i in 0..inputs {
        for j in 0..outputs {
            t[j * inputs + i] = q[i * outputs + j];
        }
    }
    Some((PlanDense::new(inputs, outputs, t, scale, bias), gemm.input[0].clone()))
}

impl Plan {
    /// Lowers an int8 behaviour model; `None` when the graph is anything else (tract runs it).
    #[cfg(feature = "tract")]
    pub fn lower(onnx: &[u8]) -> Option<Plan> {
        let m = ModelProto::decode(onnx).ok()?;
        let g = m.graph.as_ref()?;
        let nodes = &g.node;
        let (head_a, from_a) = dense(&m, nodes, OUTPUT_A)?;
        let softplus = producer(nodes, OUTPUT_B).filter(|n| n.op_type == "Softplus" && n.input.len() == 1)?;
        let (head_b, from_b) = dense(&m, nodes, &softplus.input[0])?;
        if from_a != from_b || head_a.outputs != 1 || head_b.outputs != 1 {
            return None;
        }
        let head_c = match producer(nodes, OUTPUT_C) {
            None => None,
            Some(sigmoid) if sigmoid.op_type == "Sigmoid" && sigmoid.input.len() == 1 => {
                let (head_c, from_c) = dense(&m, nodes, &sigmoid.input[0])?;
                if from_c != from_a || head_c.outputs != 1 || head_c.inputs != head_a.inputs {
                    return None;
                }
                Some(head_c)
            }
            Some(_) => return None,
        };
        // Walk back through Relu(Gemm(...)) layers to the input.
        let mut hidden = Vec::new();
        let mut current = from_a;
        while current != INPUT_NAME {
            let relu = producer(nodes, &current).filter(|n| n.op_type == "Relu" && n.input.len() == 1)?;
            let (layer, input) = dense(&m, nodes, &relu.input[0])?;
            hidden.push(layer);
            current = input;
            if hidden.len() > 16 {
                return None;
            }
        }
        hidden.reverse();
        // Every node accounted for: dequantize + Gemm + Relu per hidden layer, dequantize + Gemm
        // per head, the softplus, and the ceiling's sigmoid.
        if nodes.len() != 3 * hidden.len() + 5 + if head_c.is_some() { 3 } else { 0 } {
            return None;
        }
        let widths_chain = hidden.windows(2).all(|w| w[0].outputs == w[1].inputs)
            && hidden.last().is_some_and(|l| l.outputs == head_a.inputs && l.outputs == head_b.inputs);
        widths_chain.then_some(Plan { hidden, head_a, head_b, head_c, kernel: KernelCache::default() })
    }

    pub fn width(&self) -> usize {
        self.hidden.first().map_or(self.head_a.inputs, |l| l.inputs)
    }

    /// The heads for one feature vector of `width()` values (`kernel`'s arithmetic).
    pub fn heads(&self, x: &[f32]) -> Option<Heads> {
        if x.len() != self.width() {
            return None;
        }
        self.kernel.get(self).one(x)
    }

    /// The heads of `xs.len() / width()` feature vectors stored row after row, each exactly
    /// as `heads` computes it (the same operations in the same order, so the same bits) by
    /// the batched kernel (eight rows and four outputs at a time). `None` when `xs` is not
    /// whole rows.
    pub fn heads_batch(&self, xs: &[f32]) -> Option<Vec<Option<Heads>>> {
        let width = self.width();
        if width == 0 || !xs.len().is_multiple_of(width) {
            return None;
        }
        Some(self.kernel.get(self).batch(xs, width))
    }
}

/// Magic and version of the plan's byte encoding (carried in bundles, signed with them).
const PLAN_MAGIC: &[u8; 4] = b"EPP1";

impl PlanDense {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.inputs as u32).to_le_bytes());
        out.extend_from_slice(&(self.outputs as u32).to_le_bytes());
        out.extend(self.q.iter().map(|v| *v as u8));
        for v in self.scale.iter().chain(&self.bias) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn read(bytes: &mut &[u8]) -> Option<PlanDense> {
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, rest) = (bytes.get(..n)?, bytes.get(n..)?);
            *bytes = rest;
            Some(head)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let inputs = u32_at(take(4)?);
        let outputs = u32_at(take(4)?);
        if inputs == 0 || outputs == 0 || inputs > 4096 || outputs > 4096 {
            return None;
        }
        let q = take(inputs * outputs)?.iter().map(|b| *b as i8).collect();
        let floats = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let scale: Vec<f32> = floats(take(4 * outputs)?);
        let bias: Vec<f32> = floats(take(4 * outputs)?);
        scale.iter().chain(&bias).all(|v| v.is_finite()).then(|| PlanDense::new(inputs, outputs, q, scale, bias))
    }
}

impl Plan {
    /// The plan as bytes: magic, version (1 without head `c`, 2 with it), layer count, then
    /// each layer (hidden layers, head `a`, head `b`, head `c` in version 2): inputs, outputs
    /// (u32 LE), int8 weights, scales, biases (f32 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = PLAN_MAGIC.to_vec();
        let version: u32 = if self.head_c.is_some() { 2 } else { 1 };
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(self.hidden.len() as u32).to_le_bytes());
        for layer in self.hidden.iter().chain([&self.head_a, &self.head_b]).chain(&self.head_c) {
            layer.write(&mut out);
        }
        out
    }

    /// Reads `to_bytes` output; `None` for anything malformed, truncated or inconsistent.
    pub fn from_bytes(bytes: &[u8]) -> Option<Plan> {
        let rest = bytes.strip_prefix(PLAN_MAGIC)?;
        let version = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        let count = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
        if !(1..=PLAN_VERSION).contains(&version) || count > 16 {
            return None;
        }
        let mut cursor = rest.get(8..)?;
        let hidden: Vec<PlanDense> = (0..count).map(|_| PlanDense::read(&mut cursor)).collect::<Option<_>>()?;
        let head_a = PlanDense::read(&mut cursor)?;
        let head_b = PlanDense::read(&mut cursor)?;
        let head_c = if version == 2 { Some(PlanDense::read(&mut cursor)?) } else { None };
        let chained = hidden.windows(2).all(|w| w[0].outputs == w[1].inputs)
            && hidden.last().map_or(head_a.inputs, |l| l.outputs) == head_a.inputs
            && head_a.inputs == head_b.inputs
            && head_a.outputs == 1
            && head_b.outputs == 1
            && head_c.as_ref().is_none_or(|c| c.inputs == head_a.inputs && c.outputs == 1);
        (cursor.is_empty() && chained).then_some(Plan {
            hidden,
            head_a,
            head_b,
            head_c,
            kernel: KernelCache::default(),
        })
    }
}
