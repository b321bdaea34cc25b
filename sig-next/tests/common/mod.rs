//! Helpers shared by the integration tests.
#![allow(dead_code)]

use sig_core::Customer;
use sig_core::raw::{RawAddress, RawCustomer};

/// A valid company customer.
pub fn customer() -> Customer {
    RawCustomer {
        tax_id: Some("11.222.333/0001-81".into()),
        legal_name: Some("ACME Telecomunicações Ltda".into()),
        trade_name: Some("ACME".into()),
        contact_name: Some("Maria Souza".into()),
        emails: vec!["financeiro@acme.com.br".into(), "ti@acme.com.br".into()],
        phones: vec!["(21) 3000-1234".into(), "(21) 98765-4321".into()],
        address: RawAddress {
            street: Some("Rua do Ouvidor".into()),
            number: Some("50".into()),
            complement: Some("sala 301".into()),
            district: Some("Centro".into()),
            city: Some("Rio de Janeiro".into()),
            uf: Some("RJ".into()),
            cep: Some("20040-030".into()),
        },
        state_registration: Some("ISENTO".into()),
        municipal_registration: None,
    }
    .validate()
    .expect("a valid test customer")
}

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sig_core::AreaCode;
use sig_core::ids::{CustomerId, DidId, LineId, ServiceOrderId};
use sig_core::ports::{Attempt, DidRequest, LineRequest, UpstreamError, VoipPlatform};

/// One service to provision: a customer, its lines and DIDs, on one instance.
#[derive(Debug, Clone)]
pub struct Service {
    /// Index of the instance it goes to.
    pub instance: usize,
    /// The SIG customer.
    pub customer: CustomerId,
    /// Its lines.
    pub lines: Vec<LineId>,
    /// Its DIDs, each with the index of the line it rings.
    pub dids: Vec<(DidId, usize)>,
}

/// `count` services over `customers` SIG customers and `instances` instances, seeded.
pub fn plan(seed: u64, count: usize, customers: usize, instances: usize) -> Vec<Service> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let ids: Vec<CustomerId> = (0..customers).map(|_| CustomerId::new()).collect();
    (0..count)
        .map(|_| {
            let lines: Vec<LineId> = (0..rng.random_range(1..=2))
                .map(|_| LineId::new())
                .collect();
            let dids = (0..rng.random_range(0..=2))
                .map(|_| (DidId::new(), rng.random_range(0..lines.len())))
                .collect();
            Service {
                instance: rng.random_range(0..instances),
                customer: ids[rng.random_range(0..customers)],
                lines,
                dids,
            }
        })
        .collect()
}

/// Calls `f` until it succeeds, again after each retryable failure (as the pipeline does:
/// the same `ensure_*` again). Every error seen is kept in `seen`. Panics on a permanent
/// failure or after too many attempts.
pub async fn until_ok<T, F, Fut>(seen: &Mutex<Vec<UpstreamError>>, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UpstreamError>>,
{
    for _ in 0..200 {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                assert!(e.is_retryable(), "permanent failure: {e}");
                let wait = e.retry_after.unwrap_or(Duration::from_millis(5));
                seen.lock().unwrap().push(e);
                tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
            }
        }
    }
    panic!("no success after 200 attempts");
}

/// Provisions every service through the port on `platforms[service.instance]`, a customer's
/// services one after another (as the pipeline orders one customer's steps) and up to
/// `parallel` customers at once. Returns every error seen along the way.
pub async fn provision<P: VoipPlatform + 'static>(
    platforms: Vec<Arc<P>>,
    services: &[Service],
    parallel: usize,
) -> Vec<UpstreamError> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let customer = Arc::new(customer());
    let mut by_customer: BTreeMap<CustomerId, Vec<Service>> = BTreeMap::new();
    for s in services {
        by_customer.entry(s.customer).or_default().push(s.clone());
    }
    futures::stream::iter(by_customer.into_values())
        .for_each_concurrent(parallel, |services| {
            let platforms = platforms.clone();
            let seen = Arc::clone(&seen);
            let customer = Arc::clone(&customer);
            async move {
                for s in services {
                    let p = &platforms[s.instance];
                    let vc = until_ok(&seen, || {
                        p.ensure_customer(s.customer, &customer, Attempt::Again)
                    })
                    .await;
                    let mut devices = Vec::new();
                    for line_id in &s.lines {
                        let req = LineRequest {
                            line_id: *line_id,
                            order_id: ServiceOrderId::new(),
                            rate_id: 0,
                            channels: 2,
                            area_code: AreaCode::new(11).unwrap(),
                            attempt: Attempt::Again,
                        };
                        let vl = until_ok(&seen, || p.ensure_line(&vc, &req)).await;
                        devices.push(vl.voip_id);
                    }
                    for (n, (did_id, line)) in s.dids.iter().enumerate() {
                        let req = DidRequest {
                            did_id: *did_id,
                            number: format!("(11) 3{:03}-{:04}", n, devices[*line] % 10_000)
                                .parse()
                                .unwrap(),
                            device_id: devices[*line],
                            rate_id: 0,
                            attempt: Attempt::Again,
                        };
                        until_ok(&seen, || p.ensure_did(&vc, &req)).await;
                    }
                }
            }
        })
        .await;
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}
