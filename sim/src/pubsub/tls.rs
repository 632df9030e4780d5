//! A throwaway certificate authority for the TLS listener: a fresh CA and a `localhost` /
//! `127.0.0.1` leaf per start. The CA PEM is written to a temp file for clients
//! (`NODE_EXTRA_CA_CERTS`, a gRPC client's root certificates).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

pub struct Throwaway {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_path: String,
}

fn err(e: rcgen::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

pub fn throwaway(port: u16) -> std::io::Result<Throwaway> {
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "forcelink-sim throwaway CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(err)?;
    let path = std::env::temp_dir().join(format!(
        "forcelink-sim-ca-{}-{port}.pem",
        std::process::id()
    ));
    std::fs::write(&path, ca_cert.pem())?;
    Ok(Throwaway {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        ca_path: path.to_string_lossy().into_owned(),
    })
}
