//! The local certificate authority: made on first use in the data dir (`isartor-ca.pem`, public;
//! `isartor-ca-key.pem`, mode 0600), valid ten years, and the leaf certificates it mints for the
//! intercepted hosts. Leaves are cached per host name, so a host is minted once, not once per
//! connection. Leaves do not carry the CA's key: every leaf of one daemon run shares a key pair
//! made at start-up and never written to disk, so the CA key only ever signs.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http::uri::Authority;
use moka::future::Cache;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;

/// How long the CA is valid.
const CA_VALIDITY: time::Duration = time::Duration::days(3650);
/// How long a leaf is valid; its cache entry expires at half that, well before the leaf does.
const LEAF_VALIDITY: time::Duration = time::Duration::days(2);
const LEAF_CACHE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Backdating for clocks that run a little behind ours.
const CLOCK_SKEW: time::Duration = time::Duration::hours(1);
/// Distinct hosts whose leaves are kept.
const LEAF_CACHE_CAPACITY: u64 = 1024;

pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    leaf_key: KeyPair,
    cert_path: PathBuf,
    leaves: Cache<String, Arc<ServerConfig>>,
    provider: Arc<CryptoProvider>,
}

/// The CA's subject. Fixed, so the issuer of the leaves always names the certificate on disk.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Isartor");
    name.push(DnType::CommonName, "Isartor local CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn crypto_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

impl LocalCa {
    /// Loads the CA from `dir`, or makes one there when neither file exists.
    pub fn load_or_create(dir: &Path) -> Result<LocalCa> {
        let cert_path = dir.join("isartor-ca.pem");
        let key_path = dir.join("isartor-ca-key.pem");
        let key = match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let pem = std::fs::read_to_string(&key_path)
                    .with_context(|| format!("cannot read {}", key_path.display()))?;
                KeyPair::from_pem(&pem)
                    .with_context(|| format!("{} is not a private key", key_path.display()))?
            }
            (false, false) => {
                crate::paths::Paths::ensure_private_dir(dir)?;
                let key = KeyPair::generate()?;
                let mut params = ca_params();
                params.not_before = OffsetDateTime::now_utc() - CLOCK_SKEW;
                params.not_after = params.not_before + CA_VALIDITY;
                let cert = params.self_signed(&key)?;
                crate::paths::write_atomically(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                crate::paths::write_atomically(&cert_path, cert.pem().as_bytes(), 0o644)?;
                tracing::info!(
                    "made a local CA for the proxy: {} (trust it in clients that use the proxy; \
                     `isartor connect` does that)",
                    cert_path.display()
                );
                key
            }
            (true, false) | (false, true) => bail!(
                "only one of {} and {} exists: remove the other too to make a new CA (clients \
                 that trusted the old one must then be connected again)",
                cert_path.display(),
                key_path.display()
            ),
        };
        Ok(LocalCa {
            issuer: Issuer::new(ca_params(), key),
            leaf_key: KeyPair::generate()?,
            cert_path,
            leaves: Cache::builder()
                .max_capacity(LEAF_CACHE_CAPACITY)
                .time_to_live(LEAF_CACHE_TTL)
                .build(),
            provider: crypto_provider(),
        })
    }

    /// The CA certificate clients must trust.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// A leaf for `host` (a DNS name or an IP address), signed by the CA.
    pub fn mint(&self, host: &str) -> Result<CertificateDer<'static>> {
        let mut params = CertificateParams::default();
        params.serial_number = Some(fastrand::u64(..).into());
        params.not_before = OffsetDateTime::now_utc() - CLOCK_SKEW;
        params.not_after = params.not_before + LEAF_VALIDITY;
        params
            .distinguished_name
            .push(DnType::CommonName, host.to_string());
        params.subject_alt_names = vec![match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into()?),
        }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        Ok(params.signed_by(&self.leaf_key, &self.issuer)?.into())
    }

    /// The TLS server configuration for `host`: cached, minted on the first connection.
    pub async fn server_config(&self, host: &str) -> Arc<ServerConfig> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.leaves
            .get_with_by_ref(&host, async { self.build_config(&host) })
            .await
    }

    fn build_config(&self, host: &str) -> Arc<ServerConfig> {
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the provider supports TLS 1.2 and 1.3")
            .with_no_client_auth();
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let mut config = match self
            .mint(host)
            .map(|leaf| builder.with_single_cert(vec![leaf], key))
        {
            Ok(Ok(config)) => config,
            Ok(Err(e)) => refuse(host, &e.to_string(), self.provider.clone()),
            Err(e) => refuse(host, &e.to_string(), self.provider.clone()),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A server configuration with no certificate: the handshake fails with an alert.
fn refuse(host: &str, why: &str, provider: Arc<CryptoProvider>) -> ServerConfig {
    tracing::warn!("cannot mint a certificate for {host}: {why}");
    #[derive(Debug)]
    struct Nothing;
    impl ResolvesServerCert for Nothing {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            None
        }
    }
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the provider supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Nothing))
}

/// hudsucker asks here for each intercepted TLS connection (by SNI, else the CONNECT host).
#[derive(Clone)]
pub struct Minter(pub Arc<LocalCa>);

impl hudsucker::certificate_authority::CertificateAuthority for Minter {
    async fn gen_server_config(&self, authority: &Authority) -> Arc<ServerConfig> {
        self.0.server_config(authority.host()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ca_is_made_once_with_a_private_key_and_leaves_are_cached_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        let key = dir.path().join("isartor-ca-key.pem");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let pem = std::fs::read(ca.cert_path()).unwrap();

        let a = ca.server_config("api.openai.com").await;
        let b = ca.server_config("API.openai.com").await;
        assert!(Arc::ptr_eq(&a, &b), "one mint per host");
        let c = ca.server_config("127.0.0.1").await;
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(a.alpn_protocols[0], b"h2");

        // Loading again reuses the same CA, byte for byte.
        let again = LocalCa::load_or_create(dir.path()).unwrap();
        assert_eq!(std::fs::read(again.cert_path()).unwrap(), pem);
        assert!(again.mint("api.anthropic.com").is_ok());

        // Half a CA is refused rather than silently replaced.
        std::fs::remove_file(&key).unwrap();
        let err = LocalCa::load_or_create(dir.path()).err().unwrap();
        assert!(err.to_string().contains("only one of"), "{err}");
    }
}
