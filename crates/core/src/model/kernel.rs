//! The fast path's kernels, over a plan's weights regrouped once (at its first run) in
//! blocks of four outputs, each block input-major (`w[i][jj]`, the four outputs' weights of
//! input `i` side by side):
//! - one vector (`Kernel::one`): the four outputs of a block in the lanes of an f32x4, eight
//!   independent partial sums in flight, no horizontal sums;
//! - a batch (`Kernel::batch`): eight rows per pass (two f32x4 of rows), four outputs per
//!   pass over the inputs, so each weight is loaded once for eight rows.
//!
//! Invariant: both compute every output with exactly the operations of `reference` below, in
//! its order (`PLAN_VERSION` fixes it): eight partial sums `p_k` over the inputs `i = 8m + k`
//! of the whole chunks of eight, each from +0 in order of `m`; then `p_0..p_7` added in order
//! to the start of `Iterator::sum`; then the tail's products summed the same way and added;
//! then `bias + scale * dot`. Only the order in which independent sums are computed
//! differs, so every platform, kernel and batch size gives the same bits, and old bundles
//! price as they did.
//!
//! `batch` skips the inputs of the whole chunks that are zero in all eight rows (most
//! one-hot features are zero, and many ReLU outputs): a zero input's product is +0 or -0
//! (the weights are finite), and adding +-0 to a partial sum leaves it as it was, because a
//! partial sum starts at +0 and so is never -0 (x + y is -0 only when both are). Not in the
//! tail, whose sum starts at `Iterator::sum`'s start, which may be -0.

use std::sync::OnceLock;

use super::heads::Heads;
use super::plan::{Plan, PlanDense};

/// Outputs per block (the lanes of one f32x4 in `one`).
const BLOCK: usize = 4;

/// Four values side by side: four rows' value of one activation (`batch`), or four outputs'
/// weights of one input.
type Lanes = [f32; 4];
/// A group of `batch`: eight rows, as two lane vectors.
type Pair = [Lanes; 2];

/// The value `Iterator::sum` starts from, for references and for values: the order's lane
/// sum and tail sum start there.
fn lane_sum_start() -> f32 {
    [0f32; 0].iter().sum()
}
fn tail_sum_start() -> f32 {
    std::iter::empty::<f32>().sum()
}

/// The heads from the last layer's outputs: `a`, `b` before its softplus and `c` before its
/// sigmoid (`None`: the plan has no ceiling head); `None` unless all three are finite.
fn heads_from(a: f32, z: f32, c: Option<f32>) -> Option<Heads> {
    // softplus(z) = max(z, 0) + ln(1 + e^-|z|), as tract computes it without overflow.
    let b = z.max(0.0) + (-z.abs()).exp().ln_1p();
    let c = c.map_or(1.0, |c| 1.0 / (1.0 + (-c).exp()));
    (a.is_finite() && b.is_finite() && c.is_finite()).then_some(Heads { a, b, c })
}

/// One layer regrouped: per block of `BLOCK` outputs, `inputs` groups of four weights (the
/// block's weights of input `i`, widened from int8: exact). Outputs past the layer's have
/// zero weights, scale and bias (computed, never stored).
#[derive(Clone, Debug)]
struct Blocked {
    inputs: usize,
    outputs: usize,
    w: Vec<f32>,
    scale: Vec<f32>,
    bias: Vec<f32>,
}

impl Blocked {
    /// `layers`: one or more layers over the same inputs, their outputs one after another
    /// (the heads are three layers of one output).
    fn new(layers: &[&PlanDense]) -> Blocked {
        let inputs = layers.first().map_or(0, |l| l.inputs);
        let rows: Vec<(&[i8], f32, f32)> = layers
            .iter()
            .flat_map(|l| {
                (0..l.outputs)
                    .map(move |j| (l.q.get(j * l.inputs..(j + 1) * l.inputs).unwrap_or(&[]), l.scale[j], l.bias[j]))
            })
            .collect();
        let blocks = rows.len().div_ceil(BLOCK);
        let mut w = vec![0f32; blocks * inputs * BLOCK];
        for (j, (q, _, _)) in rows.iter().enumerate() {
            let (b, jj) = (j / BLOCK, j % BLOCK);
            for (i, v) in q.iter().enumerate() {
                w[(b * inputs + i) * BLOCK + jj] = f32::from(*v);
            }
        }
        let padded =
            |f: fn(&(&[i8], f32, f32)) -> f32| (0..blocks * BLOCK).map(|j| rows.get(j).map_or(0.0, f)).collect();
        Blocked { inputs, outputs: rows.len(), w, scale: padded(|r| r.1), bias: padded(|r| r.2) }
    }

    /// The blocks: each one's weights, whole chunks of eight inputs then the tail.
    fn blocks(&self) -> impl Iterator<Item = (usize, &[f32], &[f32])> {
        // `max(1)`: a layer without inputs (no plan that loads has one) has no blocks.
        let whole = self.inputs / 8 * 8 * BLOCK;
        self.w.chunks_exact((self.inputs * BLOCK).max(1)).enumerate().map(move |(b, wb)| {
            let (ww, wt) = wb.split_at(whole);
            (b, ww, wt)
        })
    }

    /// One vector: `x` (`inputs` values) in, output `j` to `out[j]` (ReLU'd if `relu`).
    fn one(&self, x: &[f32], out: &mut [f32], relu: bool) {
        let (xw, xt) = x[..self.inputs].split_at(self.inputs / 8 * 8);
        for (b, ww, wt) in self.blocks() {
            let mut p = [Quad::splat(0.0); 8];
            for (w32, x8) in ww.chunks_exact(8 * BLOCK).zip(xw.chunks_exact(8)) {
                for (k, p) in p.iter_mut().enumerate() {
                    *p = p.add(Quad::load(&w32[BLOCK * k..BLOCK * k + BLOCK]).mul(Quad::splat(x8[k])));
                }
            }
            let sum = p.iter().fold(Quad::splat(lane_sum_start()), |s, p| s.add(*p));
            let mut tail = Quad::splat(tail_sum_start());
            for (w4, x) in wt.chunks_exact(BLOCK).zip(xt) {
                tail = tail.add(Quad::load(w4).mul(Quad::splat(*x)));
            }
            let js = b * BLOCK..(b + 1) * BLOCK;
            let v = Quad::load(&self.bias[js.clone()]).add(Quad::load(&self.scale[js]).mul(sum.add(tail)));
            let v = if relu { v.relu() } else { v }.store();
            for (o, v) in out.iter_mut().skip(b * BLOCK).zip(v).take(self.outputs.saturating_sub(b * BLOCK)) {
                *o = v;
            }
        }
    }

    /// Eight rows: `x` (`inputs` pairs of lane vectors) in, output `j` by `store(j, value)`.
    /// `live`: scratch, set to whether each input of the whole chunks is nonzero in some row.
    fn rows(&self, x: &[Pair], live: &mut Vec<bool>, mut store: impl FnMut(usize, [Quad; 2])) {
        let (xw, xt) = x[..self.inputs].split_at(self.inputs / 8 * 8);
        // An input that is zero in all eight rows adds +-0 to each: skipped (module header).
        live.clear();
        live.extend(xw.iter().map(|[lo, hi]| Quad::load(lo).any_nonzero(Quad::load(hi))));
        for (b, ww, wt) in self.blocks() {
            let mut lo = [Quad::splat(lane_sum_start()); BLOCK];
            let mut hi = lo;
            for k in 0..8 {
                let (mut p, mut q) = ([Quad::splat(0.0); BLOCK], [Quad::splat(0.0); BLOCK]);
                for ((w32, x8), live8) in ww.chunks_exact(8 * BLOCK).zip(xw.chunks_exact(8)).zip(live.chunks_exact(8)) {
                    if !live8[k] {
                        continue;
                    }
                    let (x0, x1) = (Quad::load(&x8[k][0]), Quad::load(&x8[k][1]));
                    for ((p, q), w) in p.iter_mut().zip(q.iter_mut()).zip(&w32[BLOCK * k..BLOCK * k + BLOCK]) {
                        let w = Quad::splat(*w);
                        *p = p.add(w.mul(x0));
                        *q = q.add(w.mul(x1));
                    }
                }
                for (s, p) in lo.iter_mut().zip(p) {
                    *s = s.add(p);
                }
                for (s, q) in hi.iter_mut().zip(q) {
                    *s = s.add(q);
                }
            }
            let mut tail_lo = [Quad::splat(tail_sum_start()); BLOCK];
            let mut tail_hi = tail_lo;
            for (w4, xv) in wt.chunks_exact(BLOCK).zip(xt) {
                let (x0, x1) = (Quad::load(&xv[0]), Quad::load(&xv[1]));
                for ((t, u), w) in tail_lo.iter_mut().zip(tail_hi.iter_mut()).zip(w4) {
                    let w = Quad::splat(*w);
                    *t = t.add(w.mul(x0));
                    *u = u.add(w.mul(x1));
                }
            }
            for jj in 0..BLOCK {
                let j = b * BLOCK + jj;
                if j < self.outputs {
                    let (bias, scale) = (Quad::splat(self.bias[j]), Quad::splat(self.scale[j]));
                    let lane = |s: Quad, t: Quad| bias.add(scale.mul(s.add(t)));
                    store(j, [lane(lo[jj], tail_lo[jj]), lane(hi[jj], tail_hi[jj])]);
                }
            }
        }
    }
}

/// A plan regrouped for the kernels: the hidden layers, then the heads as one layer of two
/// or three outputs (`a`, `b` before its softplus, `c` before its sigmoid).
#[derive(Clone, Debug)]
pub(super) struct Kernel {
    hidden: Vec<Blocked>,
    heads: Blocked,
    /// The most values one activation buffer holds.
    widest: usize,
}

impl Kernel {
    fn new(plan: &Plan) -> Kernel {
        let mut heads = vec![&plan.head_a, &plan.head_b];
        heads.extend(&plan.head_c);
        let hidden: Vec<Blocked> = plan.hidden.iter().map(|l| Blocked::new(&[l])).collect();
        let heads = Blocked::new(&heads);
        let widest = hidden.iter().map(|l| l.inputs.max(l.outputs)).chain([heads.inputs, 3]).max().unwrap_or(3);
        Kernel { hidden, heads, widest }
    }

    fn ceiling(&self) -> bool {
        self.heads.outputs == 3
    }

    /// The heads of one vector of the plan's width (checked by the caller).
    pub(super) fn one(&self, x: &[f32]) -> Option<Heads> {
        // One allocation per call for both activation buffers.
        let mut scratch = vec![0f32; 2 * self.widest];
        let (mut cur, mut next) = scratch.split_at_mut(self.widest);
        cur[..x.len()].copy_from_slice(x);
        for layer in &self.hidden {
            layer.one(cur, next, true);
            std::mem::swap(&mut cur, &mut next);
        }
        let mut h = [0f32; 3];
        self.heads.one(cur, &mut h, false);
        heads_from(h[0], h[1], self.ceiling().then_some(h[2]))
    }

    /// The heads of each row of `xs` (whole rows of `width` values, checked by the caller).
    pub(super) fn batch(&self, xs: &[f32], width: usize) -> Vec<Option<Heads>> {
        let zero: Pair = [[0.0; 4]; 2];
        let (mut cur, mut next) = (vec![zero; self.widest], vec![zero; self.widest]);
        let mut live = Vec::with_capacity(self.widest);
        let mut out = Vec::with_capacity(xs.len() / width.max(1));
        for group in xs.chunks(8 * width.max(1)) {
            // Rows past the batch's end stay zero: computed, never returned.
            cur.iter_mut().for_each(|v| *v = zero);
            for (r, x) in group.chunks_exact(width.max(1)).enumerate() {
                for (c, v) in cur.iter_mut().zip(x) {
                    c[r / 4][r % 4] = *v;
                }
            }
            for layer in &self.hidden {
                layer.rows(&cur, &mut live, |j, [v, w]| next[j] = [v.relu().store(), w.relu().store()]);
                std::mem::swap(&mut cur, &mut next);
            }
            let mut h = [zero; 3];
            self.heads.rows(&cur, &mut live, |j, [v, w]| h[j] = [v.store(), w.store()]);
            for r in 0..group.len() / width.max(1) {
                let head = |k: usize| h[k][r / 4][r % 4];
                out.push(heads_from(head(0), head(1), self.ceiling().then(|| head(2))));
            }
        }
        out
    }
}

/// The kernel of a plan, built at its first run; not part of the plan's identity (equal
/// plans are equal whether or not either has run).
#[derive(Clone, Debug, Default)]
pub struct KernelCache(OnceLock<Kernel>);

impl KernelCache {
    pub(super) fn get(&self, plan: &Plan) -> &Kernel {
        self.0.get_or_init(|| Kernel::new(plan))
    }
}

impl PartialEq for KernelCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Four f32 lanes: the arithmetic of `plan::dot`, one row per lane.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[derive(Clone, Copy)]
struct Quad(Lanes);

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
impl Quad {
    fn splat(v: f32) -> Quad {
        Quad([v; 4])
    }
    /// The first four values of `v` (which has at least four).
    fn load(v: &[f32]) -> Quad {
        Quad([v[0], v[1], v[2], v[3]])
    }
    fn store(self) -> Lanes {
        self.0
    }
    fn add(self, o: Quad) -> Quad {
        Quad([self.0[0] + o.0[0], self.0[1] + o.0[1], self.0[2] + o.0[2], self.0[3] + o.0[3]])
    }
    fn mul(self, o: Quad) -> Quad {
        Quad([self.0[0] * o.0[0], self.0[1] * o.0[1], self.0[2] * o.0[2], self.0[3] * o.0[3]])
    }
    /// `plan`'s ReLU, `v.max(0.0)`, lane by lane.
    fn relu(self) -> Quad {
        Quad(self.0.map(|v| v.max(0.0)))
    }
    /// Whether a lane of `self` or of `o` is not zero (+0 and -0 are zero; NaN is not).
    fn any_nonzero(self, o: Quad) -> bool {
        self.0.iter().chain(&o.0).any(|v| *v != 0.0)
    }
}

/// The same lanes as one wasm SIMD128 value (`+simd128` is set for every wasm build).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
struct Quad(core::arch::wasm32::v128);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Quad {
    fn splat(v: f32) -> Quad {
        Quad(core::arch::wasm32::f32x4_splat(v))
    }
    /// The first four values of `v` (which has at least four).
    fn load(v: &[f32]) -> Quad {
        let v = &v[..4];
        // SAFETY: `v` is 4 f32s, 16 readable bytes; v128_load allows any alignment.
        Quad(unsafe { core::arch::wasm32::v128_load(v.as_ptr().cast()) })
    }
    fn store(self) -> Lanes {
        use core::arch::wasm32::f32x4_extract_lane as lane;
        [lane::<0>(self.0), lane::<1>(self.0), lane::<2>(self.0), lane::<3>(self.0)]
    }
    fn add(self, o: Quad) -> Quad {
        Quad(core::arch::wasm32::f32x4_add(self.0, o.0))
    }
    fn mul(self, o: Quad) -> Quad {
        Quad(core::arch::wasm32::f32x4_mul(self.0, o.0))
    }
    /// `plan`'s ReLU: `pmax(0, v)` is 0 for NaN and below 0, like `v.max(0.0)`, and may
    /// differ from it only in the sign of a zero: a zero's sign changes no sum holding a
    /// nonzero term, and each of `dot`'s lanes starts at +0 (+0 + -0 is +0).
    fn relu(self) -> Quad {
        Quad(core::arch::wasm32::f32x4_pmax(core::arch::wasm32::f32x4_splat(0.0), self.0))
    }
    /// Whether a lane of `self` or of `o` is not zero (+0 and -0 are zero; NaN is not).
    fn any_nonzero(self, o: Quad) -> bool {
        use core::arch::wasm32::{f32x4_ne, f32x4_splat, v128_any_true, v128_or};
        let zero = f32x4_splat(0.0);
        v128_any_true(v128_or(f32x4_ne(self.0, zero), f32x4_ne(o.0, zero)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::{Plan, PlanDense};
    use super::{Heads, heads_from};

    /// The order of operations written plainly, as the one-vector kernel computed it before
    /// `kernel` (plan version 2): output `j` is `bias + scale * dot(w_j, x)` with `dot` in
    /// eight lanes, summed in lane order, then the tail; ReLU is `max(0.0)`.
    fn reference(plan: &Plan, x: &[f32]) -> Option<Heads> {
        fn dot(w: &[i8], x: &[f32]) -> f32 {
            let (mut lo, mut hi) = ([0f32; 4], [0f32; 4]);
            let whole = x.len() / 8 * 8;
            for (r, v) in w[..whole].chunks_exact(8).zip(x[..whole].chunks_exact(8)) {
                for l in 0..4 {
                    lo[l] += f32::from(r[l]) * v[l];
                    hi[l] += f32::from(r[l + 4]) * v[l + 4];
                }
            }
            let tail: f32 = w[whole..].iter().zip(&x[whole..]).map(|(q, v)| f32::from(*q) * v).sum();
            lo.iter().chain(&hi).sum::<f32>() + tail
        }
        fn row(l: &PlanDense, j: usize, x: &[f32]) -> f32 {
            l.bias[j] + l.scale[j] * dot(&l.q[j * l.inputs..(j + 1) * l.inputs], x)
        }
        let mut cur = x.to_vec();
        for l in &plan.hidden {
            cur = (0..l.outputs).map(|j| row(l, j, &cur).max(0.0)).collect();
        }
        heads_from(
            row(&plan.head_a, 0, &cur),
            row(&plan.head_b, 0, &cur),
            plan.head_c.as_ref().map(|c| row(c, 0, &cur)),
        )
    }

    /// A deterministic stream of numbers in [-1, 1) (xorshift).
    struct Stream(u64);
    impl Stream {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    fn layer(s: &mut Stream, inputs: usize, outputs: usize) -> PlanDense {
        let q = (0..inputs * outputs).map(|_| (s.next() * 127.0) as i8).collect();
        let scale = (0..outputs).map(|_| s.next().abs() * 0.05 + 1e-4).collect();
        let bias = (0..outputs).map(|_| s.next()).collect();
        PlanDense::new(inputs, outputs, q, scale, bias)
    }

    fn plan(s: &mut Stream, widths: &[usize], ceiling: bool) -> Plan {
        let hidden = widths.windows(2).map(|w| layer(s, w[0], w[1])).collect();
        let last = *widths.last().unwrap();
        let heads = (layer(s, last, 1), layer(s, last, 1), ceiling.then(|| layer(s, last, 1)));
        Plan { hidden, head_a: heads.0, head_b: heads.1, head_c: heads.2, kernel: Default::default() }
    }

    fn bits(h: &Option<Heads>) -> Option<[u32; 3]> {
        h.as_ref().map(|h| [h.a.to_bits(), h.b.to_bits(), h.c.to_bits()])
    }

    #[test]
    fn both_kernels_give_the_reference_bits_for_every_row() {
        let mut s = Stream(0x9e37_79b9_7f4a_7c15);
        // Widths that are and are not multiples of 8 (and of the block of 4 outputs), one
        // narrower than a chunk, no hidden layer, the shipped shape; batches that do and do
        // not fill the last group of eight rows.
        let shapes: [(&[usize], bool); 6] = [
            (&[42, 64, 32], true),
            (&[42, 64, 32], false),
            (&[13, 7, 9], true),
            (&[5, 3], false),
            (&[16], true),
            (&[8, 8, 8, 8], true),
        ];
        for (widths, ceiling) in shapes {
            let plan = plan(&mut s, widths, ceiling);
            let width = plan.width();
            for rows in [1, 3, 8, 9, 50] {
                let mut xs: Vec<f32> = (0..rows * width).map(|_| s.next() * 4.0).collect();
                // Sparse rows, as one-hot features are: two columns in three zero (+0 or
                // -0) in every row of the first sixteen, so whole chunks are skipped.
                if rows >= 9 {
                    for (i, v) in xs.iter_mut().enumerate().take(16 * width) {
                        if !(i % width).is_multiple_of(3) {
                            *v = if i.is_multiple_of(2) { 0.0 } else { -0.0 };
                        }
                    }
                }
                // Odd values: NaN (a hidden ReLU makes it 0), infinities, huge and tiny.
                if rows == 50 {
                    let odd = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e38, -1e-40, 0.0, -0.0];
                    let n = xs.len();
                    for (i, v) in odd.iter().enumerate() {
                        xs[(i * 37) % n] = *v;
                    }
                }
                let batch = plan.heads_batch(&xs).unwrap();
                assert_eq!(batch.len(), rows);
                for (r, (x, h)) in xs.chunks(width).zip(&batch).enumerate() {
                    let want = bits(&reference(&plan, x));
                    assert_eq!(bits(&plan.heads(x)), want, "one vector: widths {widths:?}, row {r}");
                    assert_eq!(bits(h), want, "batch: widths {widths:?}, row {r} of {rows}");
                }
            }
            assert!(plan.heads_batch(&vec![0.0; width + 1]).is_none(), "a partial row is refused");
            assert!(plan.heads(&vec![0.0; width + 1]).is_none(), "a longer vector is refused");
        }
    }

    #[test]
    fn the_kernel_is_not_part_of_a_plans_identity() {
        let mut s = Stream(7);
        let a = plan(&mut s, &[10, 6], true);
        let b = a.clone();
        a.heads(&[0.5; 10]).unwrap();
        assert_eq!(a, b);
        assert_eq!(Plan::from_bytes(&a.to_bytes()), Some(b));
    }
}
