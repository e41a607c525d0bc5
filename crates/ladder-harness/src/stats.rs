//! Statistics for bench tables: pure functions, each checked against hand-computed values.

/// The Wilson score interval (95%, z = 1.96) of `successes` out of `n`: (low, high).
pub fn wilson(successes: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) / n_f) + z * z / (4.0 * n_f * n_f)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// pass^k as tau-bench defines it: the chance that `k` trials of a task, drawn without
/// replacement from its `n` trials of which `c` succeeded, all succeed: C(c, k) / C(n, k),
/// averaged over tasks. `None` when a task has fewer than `k` trials.
pub fn pass_hat_k(tasks: &[(u64, u64)], k: u64) -> Option<f64> {
    if tasks.is_empty() || k == 0 {
        return None;
    }
    let choose = |n: u64, r: u64| -> f64 {
        if r > n {
            return 0.0;
        }
        (0..r).fold(1.0, |acc, i| acc * (n - i) as f64 / (r - i) as f64)
    };
    let mut sum = 0.0;
    for &(c, n) in tasks {
        if n < k {
            return None;
        }
        sum += choose(c, k) / choose(n, k);
    }
    Some(sum / tasks.len() as f64)
}

/// A paired comparison of two strategies on the same (task, trial) runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    pub pairs: u64,
    /// Runs the first strategy solved and the second did not.
    pub only_first: u64,
    /// Runs the second solved and the first did not.
    pub only_second: u64,
    /// Success rate of the first minus that of the second.
    pub difference: f64,
    /// McNemar's exact two-sided p-value over the discordant pairs.
    pub p_value: f64,
}

/// Compare paired outcomes `(first succeeded, second succeeded)`.
pub fn paired(outcomes: &[(bool, bool)]) -> Paired {
    let pairs = outcomes.len() as u64;
    let only_first = outcomes.iter().filter(|(a, b)| *a && !*b).count() as u64;
    let only_second = outcomes.iter().filter(|(a, b)| !*a && *b).count() as u64;
    let difference = if pairs == 0 {
        0.0
    } else {
        (only_first as f64 - only_second as f64) / pairs as f64
    };
    Paired {
        pairs,
        only_first,
        only_second,
        difference,
        p_value: mcnemar_exact(only_first, only_second),
    }
}

/// McNemar's exact test: two-sided binomial p-value of `b` against `c` with p = 1/2.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Binomial(n, 1/2), doubled, capped at 1.
    let mut term = 0.5f64.powi(n as i32); // C(n, 0) / 2^n
    let mut tail = term;
    for i in 1..=k {
        term *= (n - i + 1) as f64 / i as f64;
        tail += term;
    }
    (2.0 * tail).min(1.0)
}

/// The one quantile of the workbench (nearest rank), re-exported for the summaries.
pub use ladder_core::numbers::quantile;

/// The mean of paired differences with a 95% percentile-bootstrap interval (2,000
/// resamples of the pairs, from a fixed seed, so a report never changes between runs).
/// `(0, 0, 0)` for no pairs.
pub fn mean_with_interval(diffs: &[f64]) -> (f64, f64, f64) {
    if diffs.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let mut rng = ladder_core::rng::Rng::new(0x001a_dde4);
    let means: Vec<f64> = (0..2000)
        .map(|_| (0..n).map(|_| diffs[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    (mean, quantile(&means, 0.025), quantile(&means, 0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_hand_computed_values() {
        // 8 of 10: centre 0.7167, half-width 0.2266 -> (0.4902, 0.9433).
        let (lo, hi) = wilson(8, 10);
        assert!(close(lo, 0.4902) && close(hi, 0.9433), "{lo} {hi}");
        // 0 of 5: (0, 0.4345).
        let (lo, hi) = wilson(0, 5);
        assert!(close(lo, 0.0) && close(hi, 0.4345), "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn pass_hat_k_as_tau_bench_defines_it() {
        // One task, 3 of 4 trials succeeded: pass^1 = 0.75, pass^2 = C(3,2)/C(4,2) = 0.5.
        assert!(close(pass_hat_k(&[(3, 4)], 1).unwrap(), 0.75));
        assert!(close(pass_hat_k(&[(3, 4)], 2).unwrap(), 0.5));
        // Averaged over tasks: (1 + 0) / 2.
        assert!(close(pass_hat_k(&[(2, 2), (0, 2)], 2).unwrap(), 0.5));
        assert_eq!(pass_hat_k(&[(1, 1)], 2), None);
    }

    #[test]
    fn mcnemar_and_paired_differences() {
        // b = 1, c = 5: 2 * (C(6,0) + C(6,1)) / 64 = 14 / 64.
        assert!(close(mcnemar_exact(1, 5), 0.21875));
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert!(close(mcnemar_exact(0, 10), 2.0 / 1024.0));
        let p = paired(&[(true, false), (true, true), (false, false), (true, false)]);
        assert_eq!((p.pairs, p.only_first, p.only_second), (4, 2, 0));
        assert!(close(p.difference, 0.5));
        assert!(close(p.p_value, 0.5));
    }

    #[test]
    fn a_bootstrap_interval_holds_the_mean_and_collapses_when_every_pair_agrees() {
        let (m, lo, hi) = mean_with_interval(&[1.0, 1.0, 1.0]);
        assert_eq!((m, lo, hi), (1.0, 1.0, 1.0));
        let d = [1.0, 0.0, 0.0, -1.0, 1.0, 1.0, 0.0, 0.0];
        let (m, lo, hi) = mean_with_interval(&d);
        assert!(close(m, 0.25));
        assert!(lo < m && m < hi && lo >= -1.0 && hi <= 1.0, "{lo} {hi}");
        assert_eq!(
            mean_with_interval(&d),
            (m, lo, hi),
            "fixed seed: the same interval"
        );
        assert_eq!(mean_with_interval(&[]), (0.0, 0.0, 0.0));
    }
}
