//! The feature oracle: the price each session would get from the market's own expected
//! profit at its features, with its real purchase label unknown. The label's probability
//! comes from a fixed estimate (version 1): ridge logistic regression (L2 weight 1, Newton
//! steps) on the feature schema's inputs, cross-fitted over 5 folds (session i in fold
//! i mod 5), so no session's estimate has seen its own label. It is the reachable ceiling
//! of a policy that sees the same features; the oracle that knows each draw is not.

use edgeprice_core::features::FeatureSchema;
use edgeprice_core::session::Session;

/// Version of the label estimate (folds, penalty, iterations): figures depend on it.
pub const LABEL_ESTIMATE_VERSION: u32 = 1;
const FOLDS: usize = 5;
const RIDGE: f64 = 1.0;
const NEWTON_STEPS: usize = 25;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Solves `a x = b` for a symmetric positive definite `a` (n x n, row-major) by Cholesky.
fn solve_spd(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| a[j * n + k].powi(2)).sum::<f64>();
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>();
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        b[i] = (b[i] - (0..i).map(|k| a[i * n + k] * b[k]).sum::<f64>()) / a[i * n + i];
    }
    for i in (0..n).rev() {
        b[i] = (b[i] - (i + 1..n).map(|k| a[k * n + i] * b[k]).sum::<f64>()) / a[i * n + i];
    }
    Some(b)
}

/// Ridge logistic regression by Newton's method; `x` rows carry a leading 1 (intercept,
/// not penalized). Returns the weights, or zeros where a step cannot be solved.
fn fit(x: &[Vec<f64>], y: &[bool]) -> Vec<f64> {
    let n = x.first().map_or(0, Vec::len);
    let mut w = vec![0.0; n];
    for _ in 0..NEWTON_STEPS {
        let mut hess = vec![0.0; n * n];
        let mut grad = vec![0.0; n];
        for (xi, &yi) in x.iter().zip(y) {
            let p = sigmoid(xi.iter().zip(&w).map(|(a, b)| a * b).sum());
            let r = f64::from(u8::from(yi)) - p;
            let v = (p * (1.0 - p)).max(1e-9);
            for j in 0..n {
                grad[j] += r * xi[j];
                for k in 0..=j {
                    hess[j * n + k] += v * xi[j] * xi[k];
                }
            }
        }
        for j in 0..n {
            for k in 0..j {
                hess[k * n + j] = hess[j * n + k];
            }
            if j > 0 {
                hess[j * n + j] += RIDGE;
                grad[j] -= RIDGE * w[j];
            }
        }
        let Some(step) = solve_spd(hess, grad, n) else { break };
        let size = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
        w.iter_mut().zip(&step).for_each(|(wi, s)| *wi += s);
        if size < 1e-8 {
            break;
        }
    }
    w
}

/// Cross-fitted probability of each session's real label (bought at the list price).
pub fn label_probability(sessions: &[(Session, bool)]) -> Vec<f64> {
    let refs: Vec<&Session> = sessions.iter().map(|(s, _)| s).collect();
    let Ok(schema) = FeatureSchema::fit(&refs) else {
        let base = sessions.iter().filter(|(_, b)| *b).count() as f64 / sessions.len().max(1) as f64;
        return vec![base; sessions.len()];
    };
    let x: Vec<Vec<f64>> = sessions
        .iter()
        .map(|(s, _)| std::iter::once(1.0).chain(schema.transform(s).into_iter().map(f64::from)).collect())
        .collect();
    let y: Vec<bool> = sessions.iter().map(|(_, b)| *b).collect();
    let mut out = vec![0.0; sessions.len()];
    for fold in 0..FOLDS {
        let (train_x, train_y): (Vec<Vec<f64>>, Vec<bool>) =
            (0..x.len()).filter(|i| i % FOLDS != fold).map(|i| (x[i].clone(), y[i])).unzip();
        let w = fit(&train_x, &train_y);
        for i in (0..x.len()).filter(|i| i % FOLDS == fold) {
            out[i] = sigmoid(x[i].iter().zip(&w).map(|(a, b)| a * b).sum());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves() {
        let a = vec![4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(a, vec![2.0, 1.0], 2).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12 && (2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn logistic_regression_recovers_a_separating_direction() {
        let x: Vec<Vec<f64>> = (0..400).map(|i| vec![1.0, (i as f64 - 200.0) / 100.0]).collect();
        let y: Vec<bool> = (0..400).map(|i| (i * 7919) % 400 < i).collect();
        let w = fit(&x, &y);
        assert!(w[1] > 0.5, "{w:?}");
    }
}
