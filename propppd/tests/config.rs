//! The example configuration shipped in `conf/` loads, and `check` (what
//! `propppd -n` runs) accepts it together with a pppd-format secrets file.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proppp::config::{self, AuthMethod, Config, Level};
use proppp::secrets::Secrets;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/propppd.conf")
}

#[test]
fn example_config_loads() {
    let c = Config::load(&example()).unwrap();
    assert_eq!(c.system.log_ppp, Level::Notice);
    assert_eq!(c.system.log_main, Level::Info);
    let lns = c.profile(Some("lns")).unwrap();
    assert_eq!(lns.auth, vec![AuthMethod::MsChapV2, AuthMethod::Chap]);
    assert_eq!(lns.pool.as_deref(), Some("lns"));
    assert_eq!(lns.dns, vec![Ipv4Addr::new(192, 0, 2, 53), Ipv4Addr::new(198, 51, 100, 53)]);
    assert_eq!(lns.idle_timeout, Duration::from_secs(1800));
    assert!(lns.ipv6);
    let lac = c.profile(Some("lac")).unwrap();
    assert!(lac.auth.is_empty());
    assert_eq!(lac.user_name.as_deref(), Some("lac1.example.net"));
    let pools = c.pool_set().unwrap();
    assert_eq!(pools.stats("lns").unwrap().size, 241 + 254);
}

#[test]
fn example_config_checks_with_its_secrets() {
    // The example names /etc/ppp/chap-secrets; point a copy at a test file.
    let dir = std::env::temp_dir().join(format!("propppd-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chap = dir.join("chap-secrets");
    std::fs::write(&chap, "# client server secret addresses\nalice * \"alice's secret\" 192.0.2.20\nbob * bobs-secret *\n").unwrap();
    let text = std::fs::read_to_string(example()).unwrap().replace("/etc/ppp/chap-secrets", chap.to_str().unwrap());
    let conf = dir.join("propppd.conf");
    std::fs::write(&conf, text).unwrap();
    let mut checked = config::check(&conf).unwrap();
    let secrets: &Secrets = &checked.secrets[&chap];
    let alice = secrets.secret_for(b"alice", None).unwrap();
    assert_eq!(alice.secret, b"alice's secret");
    let addr = alice.static_address().unwrap();
    // Alice's static address lies in the pool: reserving it takes it out.
    checked.pools.reserve(addr, 1).unwrap();
    assert_eq!(checked.pools.stats("lns").unwrap().used, 1);
    assert_eq!(checked.pools.pool_of(addr), Some("lns"));
    assert!(checked.pools.reserve(addr, 2).is_err());
    // Bob has no static address: he gets the pool's first free one.
    let bob = secrets.secret_for(b"bob", Some(b"lns.example.net")).unwrap();
    assert_eq!(bob.static_address(), None);
    let got = checked.pools.allocate("lns", 3).unwrap();
    assert_eq!(got, Ipv4Addr::new(192, 0, 2, 10));
    assert!(bob.permits(got));
    std::fs::remove_dir_all(&dir).unwrap();
}
