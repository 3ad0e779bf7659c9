//! `players.toml`: where each party of a program runs, where its data is, and its TLS files.
//!
//! ```toml
//! [parties.alice]
//! address = "127.0.0.1:7001"
//! data = "data/alice"              # relative paths are relative to this file
//! cert = "certs/alice.pem"         # with [tls]: this party's certificate (its name in the SAN)
//! key = "certs/alice.key"
//!
//! [tls]                            # optional; when present, every connection is mutual TLS
//! ca = "certs/ca.pem"
//! ```
//!
//! `data` defaults to `data/<party>` beside the file; `cert` and `key` default to
//! `certs/<party>.pem` and `certs/<party>.key` there (what `tfec certs` writes).

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    parties: BTreeMap<String, RawParty>,
    tls: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    address: String,
    data: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
}

/// One party's entry, with paths resolved against the file's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Player {
    /// `host:port`, as written.
    pub address: String,
    pub data: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A players file.
#[derive(Debug, Clone, PartialEq)]
pub struct Players {
    pub path: PathBuf,
    pub parties: BTreeMap<String, Player>,
    /// The CA certificate, when connections are mutual TLS.
    pub tls_ca: Option<PathBuf>,
}

impl Players {
    /// Reads and validates a players file. Errors name the file and the entry.
    pub fn load(path: &Path) -> Result<Players, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Players::parse(&text, path)
    }

    /// Parses the text of the players file at `path` (which resolves relative paths).
    pub fn parse(text: &str, path: &Path) -> Result<Players, String> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| format!("`{}`: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut parties = BTreeMap::new();
        for (name, p) in raw.parties {
            if p.address.parse::<SocketAddr>().is_err() && !has_host_and_port(&p.address) {
                return Err(format!(
                    "`{}`: party `{name}` has the address `{}`, which is not `host:port`",
                    path.display(),
                    p.address
                ));
            }
            let resolve =
                |given: Option<PathBuf>, default: String| dir.join(given.unwrap_or(default.into()));
            parties.insert(
                name.clone(),
                Player {
                    address: p.address,
                    data: resolve(p.data, format!("data/{name}")),
                    cert: resolve(p.cert, format!("certs/{name}.pem")),
                    key: resolve(p.key, format!("certs/{name}.key")),
                },
            );
        }
        Ok(Players {
            path: path.to_path_buf(),
            parties,
            tls_ca: raw.tls.map(|t| dir.join(t.ca)),
        })
    }

    /// Checks the file against the program's parties: each has an entry, and every entry is a
    /// party of the program. Returns the entries in the program's party order.
    pub fn for_program(&self, parties: &[String]) -> Result<Vec<Player>, String> {
        let file = self.path.display();
        if let Some(missing) = parties.iter().find(|p| !self.parties.contains_key(*p)) {
            return Err(format!(
                "`{file}` has no entry for party `{missing}` of the program (add `[parties.{missing}]` with its address)"
            ));
        }
        if let Some(extra) = self.parties.keys().find(|p| !parties.contains(p)) {
            return Err(format!(
                "`{file}` names party `{extra}`, which the program does not have (its parties: {})",
                parties.join(", ")
            ));
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for p in parties {
            let address = self.parties[p].address.as_str();
            if let Some(other) = seen.insert(address, p) {
                return Err(format!(
                    "`{file}`: parties `{other}` and `{p}` have the same address `{address}`"
                ));
            }
        }
        Ok(parties.iter().map(|p| self.parties[p].clone()).collect())
    }
}

fn has_host_and_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Resolves `host:port` to a socket address.
pub fn resolve(address: &str) -> Result<SocketAddr, String> {
    address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{address}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{address}` resolves to no address"))
}

/// Whether `address` is on this machine: it resolves to an address this machine can listen on.
pub fn is_local(address: &str) -> bool {
    match resolve(address) {
        Ok(a) if a.ip().is_loopback() || a.ip().is_unspecified() => true,
        Ok(a) => std::net::TcpListener::bind(SocketAddr::new(a.ip(), 0)).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Players, String> {
        Players::parse(text, Path::new("/deploy/players.toml"))
    }

    #[test]
    fn paths_resolve_beside_the_file_with_defaults() {
        let p = parse(
            "[parties.alice]\naddress = \"127.0.0.1:7001\"\ndata = \"in/alice\"\n\
             [parties.bob]\naddress = \"localhost:7002\"\ncert = \"/etc/bob.pem\"\n\
             [tls]\nca = \"certs/ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(p.parties["alice"].data, Path::new("/deploy/in/alice"));
        assert_eq!(p.parties["bob"].data, Path::new("/deploy/data/bob"));
        assert_eq!(p.parties["bob"].cert, Path::new("/etc/bob.pem"));
        assert_eq!(p.parties["alice"].key, Path::new("/deploy/certs/alice.key"));
        assert_eq!(p.tls_ca.as_deref(), Some(Path::new("/deploy/certs/ca.pem")));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let e = parse("[parties.alice]\naddress = \"127.0.0.1\"\n").unwrap_err();
        assert!(e.contains("not `host:port`"), "{e}");
        let e = parse("[parties.alice]\nadress = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(e.contains("adress"), "{e}");
        let e = parse("[parties.alice\n").unwrap_err();
        assert!(e.contains("players.toml"), "{e}");
    }

    #[test]
    fn the_file_must_match_the_programs_parties() {
        let p = parse(
            "[parties.alice]\naddress = \"127.0.0.1:7001\"\n[parties.carol]\naddress = \"127.0.0.1:7003\"\n",
        )
        .unwrap();
        let e = p.for_program(&["alice".into(), "bob".into()]).unwrap_err();
        assert!(e.contains("no entry for party `bob`"), "{e}");
        let e = p.for_program(&["alice".into()]).unwrap_err();
        assert!(
            e.contains("`carol`, which the program does not have"),
            "{e}"
        );
        let p = parse(
            "[parties.alice]\naddress = \"127.0.0.1:7001\"\n[parties.bob]\naddress = \"127.0.0.1:7001\"\n",
        )
        .unwrap();
        let e = p.for_program(&["alice".into(), "bob".into()]).unwrap_err();
        assert!(e.contains("same address"), "{e}");
    }

    #[test]
    fn loopback_is_local() {
        assert!(is_local("127.0.0.1:7001"));
        assert!(
            !is_local("192.0.2.1:7001"),
            "TEST-NET-1 is nobody's address"
        );
    }
}
