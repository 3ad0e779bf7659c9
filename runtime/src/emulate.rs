//! Network emulation for benchmarks: a round-trip time and a bandwidth per link, applied by the
//! transports themselves (the kernel's netem is not available on every machine).
//!
//! A batch of `b` bytes sent on a link leaves when the link is free, takes `b / bandwidth` to
//! serialise, and arrives half a round-trip later. Batches on one link stay in order.

use std::time::{Duration, Instant};

/// `rtt=40ms,bandwidth=352mbit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emulation {
    pub rtt: Duration,
    /// Bytes per second; infinite when not limited.
    pub bandwidth: f64,
}

impl Emulation {
    /// Parses `rtt=40ms,bandwidth=352mbit` (either part may be left out; units: `us`, `ms`, `s`;
    /// `kbit`, `mbit`, `gbit`, or bytes per second without a unit).
    pub fn parse(spec: &str) -> Result<Emulation, String> {
        let mut e = Emulation {
            rtt: Duration::ZERO,
            bandwidth: f64::INFINITY,
        };
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not `key=value` (keys: rtt, bandwidth)"))?;
            let v = v.trim();
            let number = |s: &str| -> Result<f64, String> {
                s.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("`{v}` is not a number with a unit"))
            };
            match k.trim() {
                "rtt" => {
                    let secs = if let Some(x) = v.strip_suffix("us") {
                        number(x)? / 1e6
                    } else if let Some(x) = v.strip_suffix("ms") {
                        number(x)? / 1e3
                    } else if let Some(x) = v.strip_suffix('s') {
                        number(x)?
                    } else {
                        return Err(format!("rtt `{v}` needs a unit: us, ms or s"));
                    };
                    e.rtt = Duration::from_secs_f64(secs);
                }
                "bandwidth" => {
                    let bits = if let Some(x) = v.strip_suffix("gbit") {
                        number(x)? * 1e9
                    } else if let Some(x) = v.strip_suffix("mbit") {
                        number(x)? * 1e6
                    } else if let Some(x) = v.strip_suffix("kbit") {
                        number(x)? * 1e3
                    } else {
                        number(v)? * 8.0
                    };
                    if bits <= 0.0 {
                        return Err("the bandwidth must be above 0".into());
                    }
                    e.bandwidth = bits / 8.0;
                }
                other => return Err(format!("unknown key `{other}` (keys: rtt, bandwidth)")),
            }
        }
        Ok(e)
    }
}

/// The schedule of one link.
#[derive(Debug, Clone)]
pub struct Pacer {
    emulation: Emulation,
    free_at: Option<Instant>,
}

impl Pacer {
    pub fn new(emulation: Emulation) -> Pacer {
        Pacer {
            emulation,
            free_at: None,
        }
    }

    /// When a batch of `bytes` handed to the link at `now` arrives.
    pub fn arrival(&mut self, now: Instant, bytes: usize) -> Instant {
        let start = self.free_at.map_or(now, |f| f.max(now));
        let done = start + Duration::from_secs_f64(bytes as f64 / self.emulation.bandwidth);
        self.free_at = Some(done);
        done + self.emulation.rtt / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let e = Emulation::parse("rtt=40ms,bandwidth=352mbit").unwrap();
        assert_eq!(e.rtt, Duration::from_millis(40));
        assert!((e.bandwidth - 44e6).abs() < 1.0);
        assert_eq!(
            Emulation::parse("rtt=20us").unwrap().rtt,
            Duration::from_micros(20)
        );
        assert!(Emulation::parse("rtt=40").unwrap_err().contains("unit"));
        assert!(
            Emulation::parse("latency=1ms")
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(Emulation::parse("bandwidth=0mbit").is_err());
    }

    #[test]
    fn batches_queue_behind_each_other_and_arrive_half_a_round_trip_later() {
        let mut p = Pacer::new(Emulation {
            rtt: Duration::from_millis(10),
            bandwidth: 1e6,
        });
        let t0 = Instant::now();
        // 1000 bytes at 1 MB/s: 1 ms on the wire, then 5 ms of flight.
        assert_eq!(p.arrival(t0, 1000), t0 + Duration::from_millis(6));
        // Sent at the same time, it waits for the first to leave.
        assert_eq!(p.arrival(t0, 1000), t0 + Duration::from_millis(7));
        let later = t0 + Duration::from_secs(1);
        assert_eq!(p.arrival(later, 0), later + Duration::from_millis(5));
    }
}
