//! Scores of probabilistic predictions against 0/1 outcomes: ROC AUC, log loss, expected
//! calibration error. Pure functions over slices; inputs of different lengths or empty
//! inputs give `None` rather than a made-up number.

/// ROC AUC by the rank-sum (Mann-Whitney) statistic; ties get their average rank.
/// `None` when there are no positives or no negatives.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    Some((rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Mean negative log likelihood, probabilities clipped to [1e-7, 1 - 1e-7].
pub fn log_loss(probs: &[f64], labels: &[bool]) -> Option<f64> {
    if probs.len() != labels.len() || probs.is_empty() {
        return None;
    }
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-7, 1.0 - 1e-7);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Some(total / probs.len() as f64)
}

/// Expected calibration error over `bins` equal-width probability bins: the mean, weighted
/// by bin size, of |mean predicted - observed rate|.
pub fn expected_calibration_error(probs: &[f64], labels: &[bool], bins: usize) -> Option<f64> {
    if probs.len() != labels.len() || probs.is_empty() || bins == 0 {
        return None;
    }
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    let mut count = vec![0usize; bins];
    for (&p, &y) in probs.iter().zip(labels) {
        let b = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sum_p[b] += p;
        sum_y[b] += if y { 1.0 } else { 0.0 };
        count[b] += 1;
    }
    let n = probs.len() as f64;
    Some((0..bins).filter(|&b| count[b] > 0).map(|b| (sum_p[b] - sum_y[b]).abs() / n).sum())
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var =
        if values.len() > 1 { values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_known_values() {
        assert_eq!(auc(&[0.1, 0.2, 0.3, 0.4], &[false, false, true, true]), Some(1.0));
        assert_eq!(auc(&[0.4, 0.3, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]), Some(0.5));
        // One inversion out of four pairs.
        assert_eq!(auc(&[0.1, 0.35, 0.3, 0.4], &[false, false, true, true]), Some(0.75));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(auc(&[0.1], &[true, false]), None);
    }

    #[test]
    fn log_loss_and_ece() {
        let ll = log_loss(&[0.5, 0.5], &[true, false]).unwrap();
        assert!((ll - std::f64::consts::LN_2).abs() < 1e-12);
        assert!(log_loss(&[1.0], &[false]).unwrap().is_finite());
        // Perfectly calibrated bins: 0.25 with 1 of 4 positive.
        let ece = expected_calibration_error(&[0.25; 4], &[true, false, false, false], 10).unwrap();
        assert!(ece.abs() < 1e-12);
        let ece = expected_calibration_error(&[0.9, 0.9], &[false, false], 10).unwrap();
        assert!((ece - 0.9).abs() < 1e-12);
    }
}
