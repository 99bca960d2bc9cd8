//! E-mail alerts (upstream §f.11): one mail per change of a real or
//! fallback server of a virtual whose `emailalert` is set, in the daemon
//! states its `emailalertstatus` names.
//!
//! Sent off the director thread (a failing mail server must never delay a
//! change of IPVS): through `smtp=` with the `mail-send` crate, else through
//! the local `sendmail -t`, as upstream's Mail::Send does. Owns nothing
//! else.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{AlertStatus, Global, Virtual};

use super::log::Logger;

/// The daemon's state, as upstream's `Daemon-Status:` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonStatus {
    Starting,
    Running,
    Stopping,
    Reloading,
}

impl DaemonStatus {
    fn bit(self) -> AlertStatus {
        match self {
            DaemonStatus::Starting => AlertStatus::STARTING,
            DaemonStatus::Running => AlertStatus::RUNNING,
            DaemonStatus::Stopping => AlertStatus::STOPPING,
            DaemonStatus::Reloading => AlertStatus::RELOADING,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DaemonStatus::Starting => "starting",
            DaemonStatus::Running => "running",
            DaemonStatus::Stopping => "stopping",
            DaemonStatus::Reloading => "reloading",
        }
    }
}

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub from: String,
    /// COMPAT: upstream sends a comma-separated list as a single RCPT TO
    /// when `smtp=` is set; here every address is a recipient.
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// `host[:port]`; None: the local sendmail.
    pub smtp: Option<String>,
}

/// The alert for log line `text` of virtual `v`, if one is due.
pub fn compose(
    v: &Virtual,
    global: &Global,
    text: &str,
    status: DaemonStatus,
    hostname: &str,
) -> Option<Alert> {
    let to = v.emailalert.as_deref()?;
    if !v.emailalertstatus.contains(status.bit()) || v.emailalertstatus == AlertStatus::NONE {
        return None;
    }
    let subject = match &v.servicename {
        Some(name) => format!("[{name}] {text}"),
        None => text.to_string(),
    };
    let mut body = format!(
        "ldirectord host: {hostname}\nLog-Message: {text}\nDaemon-Status: {}\n",
        status.as_str()
    );
    if v.servicename.is_some() || v.comment.is_some() {
        body.push('\n');
        if let Some(s) = &v.servicename {
            body.push_str(&format!("Service name: {s}\n"));
        }
        if let Some(c) = &v.comment {
            body.push_str(&format!("Comment: {c}\n"));
        }
    }
    let from = global.emailalertfrom.clone().unwrap_or_else(|| {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        format!("{user}@{hostname}")
    });
    Some(Alert {
        from,
        to: to
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
        subject,
        body,
        smtp: v.smtp.clone(),
    })
}

/// The RFC 5322 message of an alert.
pub fn message(a: &Alert) -> String {
    format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        a.from,
        a.to.join(", "),
        a.subject,
        a.body.replace('\n', "\r\n")
    )
}

/// Send in the background; failures are logged with upstream's texts.
pub fn send(alert: Alert, log: Arc<Logger>) {
    log.log(&format!("emailalert: {}", alert.subject));
    std::thread::spawn(move || {
        let result = match &alert.smtp {
            Some(server) => send_smtp(&alert, server),
            None => send_sendmail(&alert),
        };
        if let Err(e) = result {
            let what = if alert.smtp.is_some() {
                "failed to send SMTP email message"
            } else {
                "failed to send email message"
            };
            log.log(&format!("{what}: {e}"));
        }
    });
}

fn send_smtp(a: &Alert, server: &str) -> Result<(), String> {
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|e| e.to_string())?),
        None => (server.to_string(), 25),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // The envelope sender is the bare address of a `Name <addr>` From.
    let envelope_from = a
        .from
        .rsplit_once('<')
        .and_then(|(_, r)| r.strip_suffix('>'))
        .unwrap_or(&a.from)
        .trim()
        .to_string();
    let body = message(a);
    rt.block_on(async {
        let mut client = mail_send::SmtpClientBuilder::new(host, port)
            .map_err(|e| e.to_string())?
            .implicit_tls(false)
            .timeout(Duration::from_secs(30))
            .connect_plain()
            .await
            .map_err(|e| e.to_string())?;
        let msg = mail_send::smtp::message::Message::new(
            envelope_from.as_str(),
            a.to.iter().map(String::as_str),
            body.as_bytes(),
        );
        client.send(msg).await.map_err(|e| e.to_string())?;
        let _ = client.quit().await;
        Ok(())
    })
}

fn send_sendmail(a: &Alert) -> Result<(), String> {
    let sendmail = ["/usr/sbin/sendmail", "/usr/lib/sendmail"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("no sendmail found (set smtp= to send through a mail server)")?;
    let mut child = std::process::Command::new(sendmail)
        .args(["-t", "-oi"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(message(a).replace("\r\n", "\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("sendmail exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_follows_upstream() {
        let c = crate::config::test_config(
            "emailalertfrom=Director <lb@example.test>\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 masq\n\temailalert=\"ops@example.test, oncall@example.test\"\n\temailalertstatus=running\n\tservicename=web\n\tcomment=front\n",
        );
        let v = &c.virtuals[0];
        assert!(compose(v, &c.global, "x", DaemonStatus::Starting, "h").is_none());
        let a = compose(
            v,
            &c.global,
            "Deleted real server: 192.0.2.21:80 (192.0.2.10:80)",
            DaemonStatus::Running,
            "h",
        )
        .unwrap();
        assert_eq!(a.to, ["ops@example.test", "oncall@example.test"]);
        assert_eq!(
            a.subject,
            "[web] Deleted real server: 192.0.2.21:80 (192.0.2.10:80)"
        );
        assert_eq!(
            a.body,
            "ldirectord host: h\nLog-Message: Deleted real server: 192.0.2.21:80 (192.0.2.10:80)\nDaemon-Status: running\n\nService name: web\nComment: front\n"
        );
        assert_eq!(a.from, "Director <lb@example.test>");
    }

    /// A one-shot SMTP server on loopback that records what it got.
    fn fake_smtp() -> (u16, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let mut got = String::new();
            w.write_all(b"220 fake ESMTP\r\n").unwrap();
            let mut data = false;
            for _ in 0..200 {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                got.push_str(&line);
                let reply: &[u8] = if data {
                    if line == ".\r\n" {
                        data = false;
                        b"250 queued\r\n"
                    } else {
                        continue;
                    }
                } else if line.starts_with("EHLO") {
                    b"250-fake\r\n250 8BITMIME\r\n"
                } else if line.starts_with("DATA") {
                    data = true;
                    b"354 go\r\n"
                } else if line.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                w.write_all(reply).unwrap();
            }
            let _ = tx.send(got);
        });
        (port, rx)
    }

    #[test]
    fn sends_through_smtp_to_every_recipient() {
        let (port, rx) = fake_smtp();
        let a = Alert {
            from: "lb@example.test".into(),
            to: vec!["a@example.test".into(), "b@example.test".into()],
            subject: "Deleted real server: 192.0.2.21:80 (192.0.2.10:80)".into(),
            body: "ldirectord host: h\n".into(),
            smtp: Some(format!("127.0.0.1:{port}")),
        };
        send_smtp(&a, a.smtp.as_deref().unwrap()).unwrap();
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(got.contains("MAIL FROM:<lb@example.test>"), "{got}");
        assert!(
            got.contains("RCPT TO:<a@example.test>") && got.contains("RCPT TO:<b@example.test>"),
            "{got}"
        );
        assert!(
            got.contains("Subject: Deleted real server: 192.0.2.21:80 (192.0.2.10:80)"),
            "{got}"
        );
    }
}
