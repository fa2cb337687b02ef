//! The floor: a Lambda external extension that registers for INVOKE and SHUTDOWN and calls
//! `/next` until SHUTDOWN, with nothing but the standard library (one blocking HTTP/1.1
//! connection). With `BARE_TELEMETRY_PORT` set it also subscribes to the Telemetry API on
//! that port of 127.0.0.1 and, after each INVOKE, calls `/next` only once the invocation's
//! `platform.runtimeDone` has arrived: the least an extension that flushes at the end of
//! each invocation can do. `cargo bench -p liftwatch-extension --bench startup` runs it
//! beside liftwatch, built with the same release profile, and prints liftwatch's figures as
//! ratios to this one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc;

/// One HTTP/1.1 message read off a connection: the first line, the extension id header
/// (when present) and the body.
struct Message {
    first_line: String,
    id: Option<String>,
    body: String,
}

fn read_message(stream: &mut BufReader<TcpStream>) -> std::io::Result<Message> {
    let mut first_line = String::new();
    stream.read_line(&mut first_line)?;
    let (mut length, mut id) = (0usize, None);
    let mut line = String::new();
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
    Ok(Message {
        first_line,
        id,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// One request and its answer on the kept-alive API connection; the answer's status too.
fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> std::io::Result<(u16, Message)> {
    stream.get_mut().write_all(request.as_bytes())?;
    let answer = read_message(stream)?;
    let status = answer
        .first_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, answer))
}

fn request(method: &str, api: &str, path: &str, headers: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\n{headers}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Answers every telemetry batch, on a thread of its own (the platform may post while
/// the extension waits on `/next`), and sends one message per `platform.runtimeDone`.
fn serve_telemetry(listener: TcpListener, runtime_done: mpsc::Sender<()>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let mut stream = BufReader::new(stream);
        let Ok(batch) = read_message(&mut stream) else {
            continue;
        };
        let _ = stream
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        for _ in batch.body.matches("\"platform.runtimeDone\"") {
            let _ = runtime_done.send(());
        }
    }
}

fn run() -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| std::io::Error::other("AWS_LAMBDA_RUNTIME_API is not set"))?;
    let mut stream = BufReader::new(TcpStream::connect(&api)?);
    let (status, register) = exchange(
        &mut stream,
        &request(
            "POST",
            &api,
            "/2020-01-01/extension/register",
            "Lambda-Extension-Name: bare-extension\r\n",
            r#"{"events":["INVOKE","SHUTDOWN"]}"#,
        ),
    )?;
    let id = register
        .id
        .filter(|_| status == 200)
        .ok_or_else(|| std::io::Error::other(format!("register answered {status}")))?;
    let telemetry = match std::env::var("BARE_TELEMETRY_PORT") {
        Ok(port) => {
            let listener = TcpListener::bind(("127.0.0.1", port.parse().unwrap_or(0)))?;
            let subscription = format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}},"destination":{{"protocol":"HTTP","URI":"http://127.0.0.1:{port}/"}}}}"#
            );
            let subscribe = request(
                "PUT",
                &api,
                "/2022-07-01/telemetry",
                &format!("Lambda-Extension-Identifier: {id}\r\n"),
                &subscription,
            );
            let (status, _) = exchange(&mut stream, &subscribe)?;
            if status != 200 {
                return Err(std::io::Error::other(format!(
                    "subscribe answered {status}"
                )));
            }
            let (done, runtime_done) = mpsc::channel();
            std::thread::spawn(move || serve_telemetry(listener, done));
            Some(runtime_done)
        }
        Err(_) => None,
    };
    let next = format!(
        "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Extension-Identifier: {id}\r\n\r\n"
    );
    loop {
        let (status, event) = exchange(&mut stream, &next)?;
        if status != 200 {
            return Err(std::io::Error::other(format!("/next answered {status}")));
        }
        if event.body.contains("\"SHUTDOWN\"") {
            return Ok(());
        }
        if let Some(runtime_done) = &telemetry {
            runtime_done
                .recv()
                .map_err(|_| std::io::Error::other("the telemetry listener stopped"))?;
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
