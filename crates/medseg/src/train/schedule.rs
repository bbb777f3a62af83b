//! Learning-rate schedules, as pure functions of the step.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The decay after warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Decay {
    /// Constant learning rate.
    Constant,
    /// Cosine annealing from the peak to `min_lr`.
    Cosine {
        /// Final learning rate.
        #[serde(default)]
        min_lr: f64,
    },
    /// `lr * (1 - t)^power` (nnU-Net uses 0.9).
    Poly {
        /// Exponent.
        power: f64,
    },
    /// Multiply by `gamma` every `every_epochs` epochs.
    Step {
        /// Epochs between decays.
        every_epochs: usize,
        /// Factor per decay.
        gamma: f64,
    },
}

/// Warm-up plus decay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Linear warm-up from `lr / 100` to `lr` over this many epochs (0 = none).
    #[serde(default)]
    pub warmup_epochs: usize,
    /// The decay after warm-up.
    pub decay: Decay,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            warmup_epochs: 0,
            decay: Decay::Cosine { min_lr: 1e-5 },
        }
    }
}

impl ScheduleConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        match &self.decay {
            Decay::Cosine { min_lr } if !(min_lr.is_finite() && *min_lr >= 0.0) => {
                bad(format!("schedule.decay.min_lr must be >= 0, got {min_lr}"))
            }
            Decay::Poly { power } if !(power.is_finite() && *power > 0.0) => {
                bad(format!("schedule.decay.power must be > 0, got {power}"))
            }
            Decay::Step {
                every_epochs,
                gamma,
            } if *every_epochs == 0 || !(gamma.is_finite() && *gamma > 0.0) => bad(format!(
                "schedule.decay needs every_epochs >= 1 and gamma > 0, got {every_epochs} and {gamma}"
            )),
            _ => Ok(()),
        }
    }

    /// Learning rate at `step` (0-based) of `total` steps, with `steps_per_epoch` steps an epoch.
    pub fn lr(&self, base: f64, step: usize, total: usize, steps_per_epoch: usize) -> f64 {
        let spe = steps_per_epoch.max(1);
        let warm = self.warmup_epochs * spe;
        if step < warm {
            let t = (step + 1) as f64 / warm as f64;
            return base * (0.01 + 0.99 * t);
        }
        let span = total.saturating_sub(warm).max(1) as f64;
        let t = ((step - warm) as f64 / span).clamp(0.0, 1.0);
        match &self.decay {
            Decay::Constant => base,
            Decay::Cosine { min_lr } => {
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Decay::Poly { power } => base * (1.0 - t).powf(*power),
            Decay::Step {
                every_epochs,
                gamma,
            } => base * gamma.powi(((step / spe) / every_epochs) as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_with_warmup() {
        let s = ScheduleConfig {
            warmup_epochs: 1,
            decay: Decay::Cosine { min_lr: 0.0 },
        };
        assert!((s.lr(1.0, 0, 110, 10) - 0.109).abs() < 1e-9);
        assert!((s.lr(1.0, 9, 110, 10) - 1.0).abs() < 1e-9);
        assert!((s.lr(1.0, 10, 110, 10) - 1.0).abs() < 1e-9);
        assert!((s.lr(1.0, 60, 110, 10) - 0.5).abs() < 1e-9);
        assert!(s.lr(1.0, 109, 110, 10) < 1e-3);
    }

    #[test]
    fn poly_and_step() {
        let p = ScheduleConfig {
            warmup_epochs: 0,
            decay: Decay::Poly { power: 1.0 },
        };
        assert!((p.lr(2.0, 50, 100, 10) - 1.0).abs() < 1e-12);
        let s = ScheduleConfig {
            warmup_epochs: 0,
            decay: Decay::Step {
                every_epochs: 2,
                gamma: 0.5,
            },
        };
        assert_eq!(s.lr(1.0, 19, 100, 10), 1.0);
        assert_eq!(s.lr(1.0, 20, 100, 10), 0.5);
        assert_eq!(s.lr(1.0, 45, 100, 10), 0.25);
    }
}
