//! Plans and clouds: what a service may be created with.
//!
//! Both lists are compiled in from `fixtures/`, so the binary works from any
//! directory and the tests see exactly what users see.

use serde::{Deserialize, Serialize};

/// A service plan: how many nodes a service's datacenter has, its disk, and
/// whether it may be part of a CCR pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub node_count: u32,
    pub node_cpu_count: u32,
    pub node_memory_mb: u64,
    /// Disk of the whole service by default, in MiB.
    pub disk_space_mb: u64,
    /// The most disk the service may be given, in MiB.
    pub disk_space_cap_mb: u64,
    /// Whether a service on this plan may join or be joined (CCR).
    pub ccr: bool,
}

/// A cloud region, named as Aiven names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cloud {
    pub cloud_name: String,
    pub cloud_description: String,
    pub geo_region: String,
    pub geo_latitude: f64,
    pub geo_longitude: f64,
    /// Availability zones; a service's nodes are spread over them as racks.
    pub zones: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub plans: Vec<Plan>,
    pub clouds: Vec<Cloud>,
}

#[derive(Deserialize)]
struct PlansFile {
    plans: Vec<Plan>,
}

#[derive(Deserialize)]
struct CloudsFile {
    clouds: Vec<Cloud>,
}

/// The cloud a service gets when the request names none.
pub const DEFAULT_CLOUD: &str = "aws-eu-west-1";

impl Catalog {
    /// The plans and clouds of `fixtures/`, compiled into the binary.
    pub fn builtin() -> Catalog {
        let plans: PlansFile = serde_json::from_str(include_str!("../../fixtures/plans.json"))
            .expect("fixtures/plans.json is valid (checked by a test)");
        let clouds: CloudsFile = serde_json::from_str(include_str!("../../fixtures/clouds.json"))
            .expect("fixtures/clouds.json is valid (checked by a test)");
        Catalog {
            plans: plans.plans,
            clouds: clouds.clouds,
        }
    }

    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    pub fn cloud(&self, name: &str) -> Option<&Cloud> {
        self.clouds.iter().find(|c| c.cloud_name == name)
    }

    /// A plausible one-way delay between two clouds, in milliseconds: the
    /// great-circle distance at the speed of light in fibre (200 km/ms),
    /// times 1.5 for routes that are never straight, plus 1 ms of
    /// switching. Unknown clouds count as the same place.
    pub fn one_way_delay_ms(&self, a: &str, b: &str) -> f64 {
        let (Some(a), Some(b)) = (self.cloud(a), self.cloud(b)) else {
            return 1.0;
        };
        let rad = |d: f64| d.to_radians();
        let (la1, la2) = (rad(a.geo_latitude), rad(b.geo_latitude));
        let dla = la2 - la1;
        let dlo = rad(b.geo_longitude - a.geo_longitude);
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        let km = 2.0 * 6371.0 * h.sqrt().min(1.0).asin();
        ((1.0 + km / 200.0 * 1.5) * 10.0).round() / 10.0
    }

    pub fn plan_names(&self) -> String {
        self.plans
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn cloud_names(&self) -> String {
        self.clouds
            .iter()
            .map(|c| c.cloud_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_plans_the_rules_need() {
        let c = Catalog::builtin();
        let startup = c.plan("startup-4").unwrap();
        assert_eq!((startup.node_count, startup.ccr), (1, false));
        for name in ["business-4", "business-8", "business-16"] {
            let p = c.plan(name).unwrap();
            assert_eq!((p.node_count, p.ccr), (3, true), "{name}");
        }
        for name in ["premium-4", "premium-8"] {
            assert_eq!(c.plan(name).unwrap().node_count, 6, "{name}");
        }
        for p in &c.plans {
            assert!(p.disk_space_mb <= p.disk_space_cap_mb, "{}", p.name);
            assert!(p.disk_space_mb.is_multiple_of(1024), "{}", p.name);
        }
        assert!(c.cloud(DEFAULT_CLOUD).is_some());
        for cloud in &c.clouds {
            assert_eq!(cloud.zones.len(), 3, "{}", cloud.cloud_name);
            assert!(cloud.geo_latitude.abs() <= 90.0 && cloud.geo_longitude.abs() <= 180.0);
        }
    }

    #[test]
    fn delays_grow_with_distance() {
        let c = Catalog::builtin();
        assert_eq!(c.one_way_delay_ms("aws-eu-west-1", "aws-eu-west-1"), 1.0);
        let transatlantic = c.one_way_delay_ms("aws-eu-west-1", "google-us-east1");
        assert!((35.0..60.0).contains(&transatlantic), "{transatlantic}");
        assert_eq!(
            transatlantic,
            c.one_way_delay_ms("google-us-east1", "aws-eu-west-1")
        );
    }
}
