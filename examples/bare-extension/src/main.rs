//! The floor: a Lambda external extension that registers for INVOKE and SHUTDOWN and calls
//! `/next` until SHUTDOWN, with nothing but the standard library (one blocking HTTP/1.1
//! connection). `cargo bench -p liftwatch-extension --bench startup` runs it beside liftwatch,
//! built with the same release profile, and prints liftwatch's figures as ratios to this one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

/// One HTTP/1.1 exchange on a kept-alive connection: the status, the extension id header
/// (when present) and the body.
struct Answer {
    status: u16,
    id: Option<String>,
    body: String,
}

fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> std::io::Result<Answer> {
    stream.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let (mut length, mut id) = (0usize, None);
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("lambda-extension-identifier") {
            id = Some(value.to_owned());
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok(Answer {
        status,
        id,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn run() -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| std::io::Error::other("AWS_LAMBDA_RUNTIME_API is not set"))?;
    let mut stream = BufReader::new(TcpStream::connect(&api)?);
    let payload = r#"{"events":["INVOKE","SHUTDOWN"]}"#;
    let register = exchange(
        &mut stream,
        &format!(
            "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: {api}\r\n\
             Lambda-Extension-Name: bare-extension\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{payload}",
            payload.len()
        ),
    )?;
    let id = register
        .id
        .filter(|_| register.status == 200)
        .ok_or_else(|| std::io::Error::other(format!("register answered {}", register.status)))?;
    let next = format!(
        "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Extension-Identifier: {id}\r\n\r\n"
    );
    loop {
        let event = exchange(&mut stream, &next)?;
        if event.status != 200 {
            return Err(std::io::Error::other(format!(
                "/next answered {}",
                event.status
            )));
        }
        if event.body.contains("\"SHUTDOWN\"") {
            return Ok(());
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare-extension: {error}");
            ExitCode::FAILURE
        }
    }
}
