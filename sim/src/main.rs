//! `forcelink-sim` CLI: starts the simulator, prints one JSON line with its URLs, and
//! serves until SIGINT/SIGTERM.

use std::io::Write;

use forcelink_sim::{start, SimConfig};

const USAGE: &str = "usage: forcelink-sim [--port N] [--instance-port N] [--my-domain-port N] [--client-id S] \
[--client-secret S] [--redirect-uri U] [--rotation] [--consent] [--contacts N] [--deals N] [--notes N] [--seed N] \
[--jwt-public-key FILE] [--jwt-user USERNAME]... [--pubsub-port N] [--pubsub-tls] [--text-field Object.Field]... [--latency-ms N] [--latency-per-1000-ms N] \
[--bulk-job-ms N] [--concurrent-limit N] [--api-limit N]";

fn parse_args(args: impl Iterator<Item = String>) -> Result<SimConfig, String> {
    let mut cfg = SimConfig::default();
    let mut it = args.peekable();
    while let Some(arg) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: invalid number '{v}'"))
        }
        match flag.as_str() {
            "--port" => cfg.port = num("--port", value("--port")?)?,
            "--instance-port" => {
                cfg.instance_port = num("--instance-port", value("--instance-port")?)?
            }
            "--my-domain-port" => {
                cfg.my_domain_port = num("--my-domain-port", value("--my-domain-port")?)?
            }
            "--jwt-public-key" => {
                let path = value("--jwt-public-key")?;
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--jwt-public-key {path}: {e}"))?;
                cfg.jwt_public_key_pem = Some(pem);
            }
            "--jwt-user" => cfg.jwt_users.push(value("--jwt-user")?),
            "--text-field" => cfg.text_fields.push(value("--text-field")?),
            "--client-id" => cfg.client_id = value("--client-id")?,
            "--client-secret" => cfg.client_secret = value("--client-secret")?,
            "--redirect-uri" => cfg.redirect_uri = Some(value("--redirect-uri")?),
            "--contacts" => cfg.contacts = num("--contacts", value("--contacts")?)?,
            "--deals" => cfg.deals = num("--deals", value("--deals")?)?,
            "--notes" => cfg.notes = num("--notes", value("--notes")?)?,
            "--seed" => cfg.seed = num("--seed", value("--seed")?)?,
            "--latency-ms" => cfg.latency_ms = num("--latency-ms", value("--latency-ms")?)?,
            "--latency-per-1000-ms" => {
                cfg.latency_per_1000_ms =
                    num("--latency-per-1000-ms", value("--latency-per-1000-ms")?)?
            }
            "--bulk-job-ms" => cfg.bulk_job_ms = num("--bulk-job-ms", value("--bulk-job-ms")?)?,
            "--concurrent-limit" => {
                cfg.concurrent_limit = num("--concurrent-limit", value("--concurrent-limit")?)?
            }
            "--api-limit" => cfg.api_limit = num("--api-limit", value("--api-limit")?)?,
            "--rotation" if inline.is_none() => cfg.rotation = true,
            "--consent" if inline.is_none() => cfg.auto_approve = false,
            "--pubsub-tls" if inline.is_none() => cfg.pubsub_tls = true,
            "--pubsub-port" => cfg.pubsub_port = num("--pubsub-port", value("--pubsub-port")?)?,
            _ => return Err(format!("unknown argument '{arg}'")),
        }
    }
    let ports = [cfg.port, cfg.instance_port, cfg.my_domain_port];
    let fixed: Vec<u16> = ports.into_iter().filter(|&p| p != 0).collect();
    if (1..fixed.len()).any(|i| fixed[..i].contains(&fixed[i])) {
        return Err("--port, --instance-port and --my-domain-port must differ".into());
    }
    Ok(cfg)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let cfg = match parse_args(args.into_iter()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("forcelink-sim: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let handle = match start(cfg).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("forcelink-sim: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    let line = serde_json::json!({
        "loginUrl": handle.login_url,
        "instanceUrl": handle.instance_url,
        "myDomainUrl": handle.my_domain_url,
        "controlUrl": handle.control_url,
        "pubsubUrl": handle.pubsub_url,
        "pubsubCaPath": handle.pubsub_ca_path,
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    drop(out);
    wait_for_signal().await;
    handle.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn args(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(String::from)
    }

    #[test]
    fn parses_flags() {
        let c = parse_args(args("--port 5000 --instance-port=5001 --rotation --consent --contacts 1000000 --redirect-uri http://localhost/cb")).unwrap();
        assert_eq!(
            (c.port, c.instance_port, c.contacts),
            (5000, 5001, 1_000_000)
        );
        assert!(c.rotation && !c.auto_approve);
        assert_eq!(c.redirect_uri.as_deref(), Some("http://localhost/cb"));
        assert!(parse_args(args("--port")).is_err());
        assert!(parse_args(args("--port x")).is_err());
        assert!(parse_args(args("--bogus")).is_err());
        assert!(parse_args(args("--rotation=yes")).is_err());
        assert!(parse_args(args("--port 5000 --my-domain-port 5000")).is_err());
        let c = parse_args(args(
            "--my-domain-port 5002 --jwt-user a@x.com --jwt-user=b@x.com",
        ))
        .unwrap();
        assert_eq!((c.my_domain_port, c.jwt_users.len()), (5002, 2));
        assert!(parse_args(args("--jwt-public-key /nonexistent/key.pem")).is_err());
        let c = parse_args(args("--latency-ms 150 --latency-per-1000-ms 20 --bulk-job-ms 10 --concurrent-limit 25 --api-limit 500")).unwrap();
        assert_eq!(
            (
                c.latency_ms,
                c.latency_per_1000_ms,
                c.bulk_job_ms,
                c.concurrent_limit,
                c.api_limit
            ),
            (150, 20, 10, 25, 500)
        );
    }
}
