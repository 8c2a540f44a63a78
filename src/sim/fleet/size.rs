//! How big a fleet to seed: `small`, `demo`, `large` (5,000 images) or an image count.

use std::fmt;
use std::str::FromStr;

/// The size of the seeded fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FleetSize {
    /// A handful of images per series: fast tests.
    Small,
    /// Dozens of images over 300 days: the demo.
    #[default]
    Demo,
    /// 5,000 images: benchmarks and the 0.5 s listing goal.
    Large,
    /// About this many images in all (at least the special cases the fleet always has).
    Images(usize),
}

impl FleetSize {
    /// How many images in all the fleet aims for.
    pub fn image_target(self) -> usize {
        match self {
            FleetSize::Small => 24,
            FleetSize::Demo => 60,
            FleetSize::Large => 5_000,
            FleetSize::Images(n) => n,
        }
    }

    /// How many clusters of servers.
    pub fn clusters(self) -> usize {
        match self.image_target() {
            0..=30 => 3,
            31..=200 => 4,
            n => (n / 250).clamp(4, 40),
        }
    }
}

/// `--fleet` was not small, demo, large or a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fleet `{0}`: expected small, demo, large or a number of images (1..=100000)")]
pub struct FleetSizeError(pub String);

impl FromStr for FleetSize {
    type Err = FleetSizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "small" => Ok(FleetSize::Small),
            "demo" => Ok(FleetSize::Demo),
            "large" => Ok(FleetSize::Large),
            n => match n.parse::<usize>() {
                Ok(v) if (1..=100_000).contains(&v) => Ok(FleetSize::Images(v)),
                _ => Err(FleetSizeError(s.to_string())),
            },
        }
    }
}

impl fmt::Display for FleetSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetSize::Small => f.write_str("small"),
            FleetSize::Demo => f.write_str("demo"),
            FleetSize::Large => f.write_str("large"),
            FleetSize::Images(n) => write!(f, "{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_are_named() {
        assert_eq!("large".parse::<FleetSize>(), Ok(FleetSize::Large));
        assert_eq!("large".parse::<FleetSize>().unwrap().image_target(), 5_000);
        assert_eq!("120".parse::<FleetSize>(), Ok(FleetSize::Images(120)));
        let e = "huge".parse::<FleetSize>().unwrap_err().to_string();
        assert!(
            e.contains("`huge`") && e.contains("small, demo, large"),
            "{e}"
        );
        assert!("0".parse::<FleetSize>().is_err());
    }
}
