//! Mutual TLS between parties (rustls with the *ring* provider).
//!
//! Every party has a certificate signed by the deployment's CA whose subject alternative name is
//! the party's name. A dialing party checks that the server's certificate names the party it
//! meant to reach; an accepting party requires a client certificate from the CA and checks that
//! it names the party the client claims to be in its hello. A peer without such a certificate
//! never gets past the handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

/// The TLS setup of one party.
#[derive(Clone)]
pub struct Tls {
    pub client: Arc<ClientConfig>,
    pub server: Arc<ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the certificate `{}`: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("`{}` is not a PEM certificate: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("`{}` holds no certificate", path.display()));
    }
    Ok(certs)
}

impl Tls {
    /// Loads the CA certificate, and this party's certificate and key.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<Tls, String> {
        let mut roots = RootCertStore::empty();
        for c in read_certs(ca)? {
            roots
                .add(c)
                .map_err(|e| format!("`{}` is not a usable CA certificate: {e}", ca.display()))?;
        }
        let roots = Arc::new(roots);
        let chain = read_certs(cert)?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("cannot read the private key `{}`: {e}", key.display()))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| format!("the CA `{}`: {e}", ca.display()))?;
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("the certificate `{}` and its key: {e}", cert.display()))?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("the certificate `{}` and its key: {e}", cert.display()))?;
        Ok(Tls {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}

/// The name a party's certificate carries: the party's name.
pub fn server_name(party: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(party.to_string()).map_err(|_| {
        format!("party name `{party}` cannot be a certificate name (use letters, digits and `-`)")
    })
}

/// Whether `cert` (already verified against the CA) names `party`.
pub fn names(cert: &CertificateDer<'_>, party: &str) -> bool {
    let Ok(name) = server_name(party) else {
        return false;
    };
    webpki::EndEntityCert::try_from(cert)
        .and_then(|c| c.verify_is_valid_for_subject_name(&name))
        .is_ok()
}

/// What `tfec certs` wrote.
#[derive(Debug)]
pub struct Written {
    pub ca: PathBuf,
    pub parties: Vec<(String, PathBuf, PathBuf)>,
}

/// Makes a CA and a certificate and key per party (named by the party) under `out`:
/// `ca.pem`, `ca.key`, `<party>.pem`, `<party>.key`. Keys are written readable by the owner only.
pub fn make_certs(parties: &[String], out: &Path) -> Result<Written, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let err = |e: rcgen::Error| format!("making certificates: {e}");
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create `{}`: {e}", out.display()))?;
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tfe deployment CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca_params, &ca_key);
    // Atomically, and a key readable by its owner only from its first byte.
    let write = |name: &str, text: &str, private: bool| -> Result<PathBuf, String> {
        let path = out.join(name);
        tfe_runtime::csvio::write_atomic(&path, text.as_bytes(), private)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        Ok(path)
    };
    let ca = write("ca.pem", &ca_cert.pem(), false)?;
    write("ca.key", &ca_key.serialize_pem(), true)?;
    let mut written = Vec::new();
    for party in parties {
        server_name(party)?;
        let key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(vec![party.clone()]).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, party);
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        let c = write(&format!("{party}.pem"), &cert.pem(), false)?;
        let k = write(&format!("{party}.key"), &key.serialize_pem(), true)?;
        written.push((party.clone(), c, k));
    }
    Ok(Written {
        ca,
        parties: written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_certificates_load_and_name_their_party() {
        let dir = std::env::temp_dir().join(format!("tfe-certs-{}", std::process::id()));
        let w = make_certs(&["alice".into(), "s0".into()], &dir).unwrap();
        let tls = Tls::load(&w.ca, &dir.join("alice.pem"), &dir.join("alice.key"));
        assert!(tls.is_ok(), "{tls:?}");
        let cert = read_certs(&dir.join("s0.pem")).unwrap().remove(0);
        assert!(names(&cert, "s0"));
        assert!(!names(&cert, "alice"));
        let e = Tls::load(&w.ca, &dir.join("nobody.pem"), &dir.join("alice.key")).unwrap_err();
        assert!(e.contains("nobody.pem"), "{e}");
    }
}
