//! Simulated time shared by the simulators, so that expiries and rate-limit windows that last minutes in
//! the real services can pass in milliseconds in tests.

use std::time::{Duration, Instant};

/// A clock running `scale` times faster than the wall clock. `scale = 1.0` is real time;
/// `scale = 1000.0` turns Xero's 30-minute access-token lifetime into 1.8 seconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    scale: f64,
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        assert!(scale > 0.0 && scale.is_finite(), "time scale must be positive");
        Self { origin: Instant::now(), scale }
    }

    /// Simulated time elapsed since the clock started.
    pub fn now(&self) -> Duration {
        self.origin.elapsed().mul_f64(self.scale)
    }

    /// How long to really wait for `simulated` to pass.
    pub fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.scale)
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new(1.0)
    }
}
