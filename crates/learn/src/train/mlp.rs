//! The multi-headed MLP, trained with candle (autograd and AdamW; no hand-written backprop).
//! `x -> relu(64) -> relu(32) -> { a: linear, b: softplus(linear), c: sigmoid(linear) }` and
//! the loss is the Bernoulli log likelihood of `c * sigmoid(a - b * (r - 1))` on logged
//! (features, r, bought); price-response form 1 has no head `c` (`c = 1`).
//! Invariant: initial weights and batch order come from `SplitMix64(seed)` only, so the
//! same data and seed give the same weights, bit for bit, on the same machine.

use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use edgeprice_core::rng::SplitMix64;

/// Hyper-parameters (chosen by 5-fold cross-validation on the train file).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MlpConfig {
    pub hidden: [usize; 2],
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Price-response form: 1 is `sigmoid(a - b (r - 1))`, 2 adds the ceiling head `c`.
    pub form: u32,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self { hidden: [64, 32], epochs: 6, batch: 256, learning_rate: 2e-3, weight_decay: 0.1, form: 2 }
    }
}

/// A dense layer, weights row-major `[inputs][outputs]` (ONNX Gemm's B layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Trained weights: two hidden layers, then head `a` and head `b` (before softplus).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub hidden: Vec<Dense>,
    pub head_a: Dense,
    pub head_b: Dense,
    /// The ceiling head (before its sigmoid), in form 2.
    pub head_c: Option<Dense>,
}

/// Training examples: `n` rows of `width` features, a price ratio and an outcome each.
pub struct Examples<'a> {
    pub width: usize,
    pub features: &'a [f32],
    pub price_ratio: &'a [f32],
    pub bought: &'a [f32],
}

type Result<T> = std::result::Result<T, candle_core::Error>;

/// softplus(z) = ln(1 + e^z), in the overflow-free form relu(z) + ln(1 + e^-|z|).
fn softplus(z: &Tensor) -> Result<Tensor> {
    z.relu()? + z.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?
}

struct Layer {
    w: Var,
    b: Var,
    inputs: usize,
    outputs: usize,
}

impl Layer {
    /// Uniform(-bound, bound) weights with bound = gain * sqrt(3 / fan_in).
    fn new(rng: &mut SplitMix64, inputs: usize, outputs: usize, gain: f64, bias: f32, dev: &Device) -> Result<Self> {
        let bound = gain * (3.0 / inputs as f64).sqrt();
        let w: Vec<f32> = (0..inputs * outputs).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32).collect();
        Ok(Self {
            w: Var::from_tensor(&Tensor::from_vec(w, (inputs, outputs), dev)?)?,
            b: Var::from_tensor(&Tensor::from_vec(vec![bias; outputs], outputs, dev)?)?,
            inputs,
            outputs,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(self.w.as_tensor())?.broadcast_add(self.b.as_tensor())
    }

    fn export(&self) -> Result<Dense> {
        Ok(Dense {
            inputs: self.inputs,
            outputs: self.outputs,
            weight: self.w.as_tensor().flatten_all()?.to_vec1::<f32>()?,
            bias: self.b.as_tensor().to_vec1::<f32>()?,
        })
    }
}

/// Fits the MLP; `on_epoch` is called after every epoch (for progress bars).
pub fn fit(data: &Examples, config: &MlpConfig, seed: u64, on_epoch: &mut dyn FnMut()) -> Result<Mlp> {
    let dev = Device::Cpu;
    let n = data.price_ratio.len();
    let mut rng = SplitMix64::new(seed);
    let [h1, h2] = config.hidden;
    let l1 = Layer::new(&mut rng, data.width, h1, 2f64.sqrt(), 0.0, &dev)?;
    let l2 = Layer::new(&mut rng, h1, h2, 2f64.sqrt(), 0.0, &dev)?;
    let la = Layer::new(&mut rng, h2, 1, 0.5, -1.5, &dev)?;
    // softplus(0.5413) = 1: price sensitivity starts at one logit per unit of price ratio.
    let lb = Layer::new(&mut rng, h2, 1, 0.5, 0.5413, &dev)?;
    // sigmoid(2.2) = 0.9: the ceiling starts near 1, where form 1 sits.
    let lc = if config.form >= 2 { Some(Layer::new(&mut rng, h2, 1, 0.5, 2.2, &dev)?) } else { None };
    let vars: Vec<Var> = [&l1, &l2, &la, &lb].into_iter().chain(&lc).flat_map(|l| [l.w.clone(), l.b.clone()]).collect();
    let params = ParamsAdamW { lr: config.learning_rate, weight_decay: config.weight_decay, ..Default::default() };
    let mut opt = AdamW::new(vars, params)?;
    let x_all = Tensor::from_slice(data.features, (n, data.width), &dev)?;
    let r_all = Tensor::from_slice(data.price_ratio, (n, 1), &dev)?;
    let y_all = Tensor::from_slice(data.bought, (n, 1), &dev)?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    for _ in 0..config.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(config.batch.max(1)) {
            let idx = Tensor::from_slice(chunk, chunk.len(), &dev)?;
            let x = x_all.index_select(&idx, 0)?;
            let r = r_all.index_select(&idx, 0)?;
            let y = y_all.index_select(&idx, 0)?;
            let h = l2.forward(&l1.forward(&x)?.relu()?)?.relu()?;
            let a = la.forward(&h)?;
            let b = softplus(&lb.forward(&h)?)?;
            let logit = (a - (b * r.affine(1.0, -1.0)?)?)?;
            let loss = match &lc {
                // -log likelihood of sigmoid(logit): softplus(logit) - y * logit.
                None => (softplus(&logit)? - (y * &logit)?)?.mean_all()?,
                Some(lc) => {
                    // p = c * sigmoid(logit); log p = -softplus(-zc) - softplus(-logit).
                    let zc = lc.forward(&h)?;
                    let log_p = (softplus(&zc.neg()?)? + softplus(&logit.neg()?)?)?.neg()?;
                    // log(1 - p), kept finite where p rounds to 1.
                    let log_q = log_p.exp()?.affine(-1.0, 1.0)?.clamp(1e-7, 1.0)?.log()?;
                    let ll = ((&y * log_p)? + (y.affine(-1.0, 1.0)? * log_q)?)?;
                    ll.neg()?.mean_all()?
                }
            };
            opt.backward_step(&loss)?;
        }
        on_epoch();
    }
    let head_c = lc.map(|l| l.export()).transpose()?;
    Ok(Mlp { hidden: vec![l1.export()?, l2.export()?], head_a: la.export()?, head_b: lb.export()?, head_c })
}

impl Mlp {
    /// Forward pass in plain f32 arithmetic, for checks against the exported ONNX.
    pub fn heads(&self, x: &[f32]) -> (f32, f32, f32) {
        let dense = |layer: &Dense, x: &[f32], relu: bool| -> Vec<f32> {
            (0..layer.outputs)
                .map(|j| {
                    let s = layer.bias[j]
                        + (0..layer.inputs).map(|i| x[i] * layer.weight[i * layer.outputs + j]).sum::<f32>();
                    if relu { s.max(0.0) } else { s }
                })
                .collect()
        };
        let mut h = x.to_vec();
        for layer in &self.hidden {
            h = dense(layer, &h, true);
        }
        let a = dense(&self.head_a, &h, false)[0];
        let zb = dense(&self.head_b, &h, false)[0];
        let c = self.head_c.as_ref().map_or(1.0, |l| 1.0 / (1.0 + (-dense(l, &h, false)[0]).exp()));
        (a, zb.max(0.0) + (-zb.abs()).exp().ln_1p(), c)
    }
}
