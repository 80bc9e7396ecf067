//! The batched kernel behind `Plan::heads_batch`: four feature vectors per f32x4 (lanes
//! across rows) and four outputs per pass over the inputs, so each weight is loaded once for
//! four rows and each input once for four outputs. Invariant: every output is computed with
//! exactly `plan::dot`'s operations in `plan::dot`'s order (eight partial sums over
//! `i = 8m + k`, added in lane order, then the tail, then `bias + scale * dot`); only the
//! order in which independent sums are computed differs, so each row's heads are bit for bit
//! the one-vector kernel's and no plan version changes.

use super::heads::Heads;
use super::plan::{Plan, PlanDense, heads_from};

/// Outputs computed per pass over the inputs.
const BLOCK: usize = 4;

/// Four rows' values of one activation, lane `r` for row `r` of the group.
type Lanes = [f32; 4];
/// A group: eight rows, as two lane vectors.
type Pair = [Lanes; 2];

/// The value `Iterator::sum` starts from, for references and for values: `plan::dot` sums
/// its lanes (references) and its tail (values) that way, so the kernel starts where it does.
fn lane_sum_start() -> f32 {
    [0f32; 0].iter().sum()
}
fn tail_sum_start() -> f32 {
    std::iter::empty::<f32>().sum()
}

/// One layer's weights regrouped for the kernel: per block of `BLOCK` outputs, for each of
/// `dot`'s eight lanes `k`, for each chunk `m`, the block's weights `w[j][8m + k]` side by
/// side; then the tail's weights the same way. Outputs past the layer's have zero weights,
/// scale and bias (computed, never stored).
#[derive(Clone, Debug)]
pub(super) struct Blocked {
    outputs: usize,
    chunks: usize,
    tail: usize,
    w: Vec<f32>,
    scale: Vec<f32>,
    bias: Vec<f32>,
}

impl Blocked {
    /// `rows`: each output's widened weights (`inputs` values), scale and bias.
    fn new(rows: &[(&[f32], f32, f32)], inputs: usize) -> Blocked {
        let (chunks, tail) = (inputs / 8, inputs % 8);
        let blocks = rows.len().div_ceil(BLOCK);
        let mut w = Vec::with_capacity(blocks * inputs * BLOCK);
        let weight = |j: usize, i: usize| rows.get(j).and_then(|r| r.0.get(i)).copied().unwrap_or(0.0);
        for b in 0..blocks {
            let js = b * BLOCK..(b + 1) * BLOCK;
            for k in 0..8 {
                for m in 0..chunks {
                    w.extend(js.clone().map(|j| weight(j, 8 * m + k)));
                }
            }
            for i in 8 * chunks..inputs {
                w.extend(js.clone().map(|j| weight(j, i)));
            }
        }
        let padded = |f: fn(&(&[f32], f32, f32)) -> f32| {
            (0..blocks * BLOCK).map(|j| rows.get(j).map_or(0.0, f)).collect::<Vec<f32>>()
        };
        Blocked { outputs: rows.len(), chunks, tail, w, scale: padded(|r| r.1), bias: padded(|r| r.2) }
    }

    fn from_layer(l: &PlanDense) -> Blocked {
        let rows: Vec<_> = (0..l.outputs).map(|j| (l.row(j), l.scale[j], l.bias[j])).collect();
        Blocked::new(&rows, l.inputs)
    }

    fn inputs(&self) -> usize {
        8 * self.chunks + self.tail
    }

    /// Where input `i` of this layer sits in its activation buffer: the whole chunks lane
    /// by lane (`k`-major, so the kernel reads them in order), then the tail in place.
    fn slot(&self, i: usize) -> usize {
        if i < 8 * self.chunks { (i % 8) * self.chunks + i / 8 } else { i }
    }

    /// All outputs for one group of eight rows: `x` in this layer's slots, output `j`
    /// written by `store(j, value)`.
    fn run(&self, x: &[Pair], mut store: impl FnMut(usize, [Quad; 2])) {
        let whole = 8 * self.chunks;
        let (xw, xt) = x[..self.inputs()].split_at(whole);
        let lane_len = self.chunks * BLOCK;
        // `max(1)`: a layer without inputs (no plan that loads has one) has no blocks.
        for (b, wb) in self.w.chunks_exact((self.inputs() * BLOCK).max(1)).enumerate() {
            let (ww, wt) = wb.split_at(whole * BLOCK);
            let mut lo = [Quad::splat(lane_sum_start()); BLOCK];
            let mut hi = lo;
            for k in 0..8 {
                let (mut p, mut q) = ([Quad::splat(0.0); BLOCK], [Quad::splat(0.0); BLOCK]);
                let wk = &ww[k * lane_len..(k + 1) * lane_len];
                let xk = &xw[k * self.chunks..(k + 1) * self.chunks];
                for (w4, xv) in wk.chunks_exact(BLOCK).zip(xk) {
                    let (x0, x1) = (Quad::load(&xv[0]), Quad::load(&xv[1]));
                    for ((p, q), w) in p.iter_mut().zip(q.iter_mut()).zip(w4) {
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

/// A plan regrouped for the kernel (built once, at its first batch): the hidden layers,
/// then the heads as one layer of two or three outputs (`a`, `b` before its softplus, `c`
/// before its sigmoid).
#[derive(Clone, Debug)]
pub(super) struct Batched {
    hidden: Vec<Blocked>,
    heads: Blocked,
}

impl Batched {
    pub(super) fn new(plan: &Plan) -> Batched {
        fn head(l: &PlanDense) -> (&[f32], f32, f32) {
            (l.row(0), l.scale[0], l.bias[0])
        }
        let mut rows = vec![head(&plan.head_a), head(&plan.head_b)];
        rows.extend(plan.head_c.as_ref().map(head));
        Batched {
            hidden: plan.hidden.iter().map(Blocked::from_layer).collect(),
            heads: Blocked::new(&rows, plan.head_a.inputs),
        }
    }

    /// The heads of each row of `xs` (whole rows of `width` values, checked by the caller).
    pub(super) fn heads(&self, xs: &[f32], width: usize) -> Vec<Option<Heads>> {
        let first = self.hidden.first().unwrap_or(&self.heads);
        let widest = self.hidden.iter().map(|l| l.inputs().max(l.outputs)).chain([first.inputs()]).max().unwrap_or(0);
        let zero: Pair = [[0.0; 4]; 2];
        let (mut cur, mut next) = (vec![zero; widest], vec![zero; widest]);
        let mut out = Vec::with_capacity(xs.len() / width.max(1));
        for group in xs.chunks(8 * width) {
            // Rows past the batch's end stay zero: computed, never returned.
            cur.iter_mut().for_each(|v| *v = zero);
            for (r, x) in group.chunks_exact(width).enumerate() {
                for (i, v) in x.iter().enumerate() {
                    cur[first.slot(i)][r / 4][r % 4] = *v;
                }
            }
            for (l, layer) in self.hidden.iter().enumerate() {
                let to = self.hidden.get(l + 1).unwrap_or(&self.heads);
                layer.run(&cur, |j, [v, w]| next[to.slot(j)] = [v.relu().store(), w.relu().store()]);
                std::mem::swap(&mut cur, &mut next);
            }
            let mut heads = [zero; 3];
            self.heads.run(&cur, |j, [v, w]| heads[j] = [v.store(), w.store()]);
            let ceiling = self.heads.outputs == 3;
            for r in 0..group.len() / width {
                let head = |h: usize| heads[h][r / 4][r % 4];
                out.push(heads_from(head(0), head(1), ceiling.then(|| head(2))));
            }
        }
        out
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
    fn load(v: &Lanes) -> Quad {
        Quad(*v)
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
    fn load(v: &Lanes) -> Quad {
        // SAFETY: `v` is 16 readable bytes; v128_load allows any alignment.
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
}

#[cfg(test)]
mod tests {
    use super::super::plan::{Plan, PlanDense};

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
        Plan { hidden, head_a: heads.0, head_b: heads.1, head_c: heads.2, batch: Default::default() }
    }

    fn bits(h: &Option<super::Heads>) -> Option<[u32; 3]> {
        h.as_ref().map(|h| [h.a.to_bits(), h.b.to_bits(), h.c.to_bits()])
    }

    #[test]
    fn every_row_is_the_one_vector_kernels_bit_for_bit() {
        let mut s = Stream(0x9e37_79b9_7f4a_7c15);
        // Widths that are and are not multiples of 8 (and of the block of 4 outputs), one
        // narrower than a chunk, no hidden layer, the shipped shape; batches that do and do
        // not fill the last group of four rows.
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
            for rows in [1, 3, 4, 5, 50] {
                let mut xs: Vec<f32> = (0..rows * width).map(|_| s.next() * 4.0).collect();
                // Odd values: NaN (a hidden ReLU makes it 0), infinities, huge and tiny.
                if rows == 50 {
                    for (i, v) in
                        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e38, -1e-40, 0.0, -0.0].iter().enumerate()
                    {
                        let n = xs.len();
                        xs[(i * 37) % n] = *v;
                    }
                }
                let batch = plan.heads_batch(&xs).unwrap();
                assert_eq!(batch.len(), rows);
                for (r, (x, h)) in xs.chunks(width).zip(&batch).enumerate() {
                    assert_eq!(bits(h), bits(&plan.heads(x)), "widths {widths:?}, row {r} of {rows}");
                }
            }
            assert!(plan.heads_batch(&vec![0.0; width + 1]).is_none(), "a partial row is refused");
        }
    }

    #[test]
    fn the_cache_is_not_part_of_a_plans_identity() {
        let mut s = Stream(7);
        let a = plan(&mut s, &[10, 6], true);
        let b = a.clone();
        a.heads_batch(&[0.5; 10]).unwrap();
        assert_eq!(a, b);
    }
}
