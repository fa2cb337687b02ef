//! A minimal HTTP/1.1 reader and writer over std sockets for the test servers: requests
//! and responses with `Content-Length` bodies (what the AWS SDK sends and moto answers),
//! keep-alive connections, one thread per connection.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

/// One request or response head plus body.
#[derive(Debug, Clone)]
pub struct Message {
    /// `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The request path (second word of the request line).
    pub fn path(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or("")
    }
}

/// Reads one message; `None` at a clean end of stream. Without `Content-Length`, a
/// response body runs to the end of the stream (`to_eof`).
pub fn read_message(reader: &mut impl BufRead, to_eof: bool) -> io::Result<Option<Message>> {
    let mut start = String::new();
    if reader.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut message = Message {
        start: start.trim_end().to_owned(),
        headers,
        body: Vec::new(),
    };
    if message.header("transfer-encoding").is_some() {
        return Err(io::Error::other("chunked bodies are not supported here"));
    }
    match message
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(length) => {
            message.body.resize(length, 0);
            reader.read_exact(&mut message.body)?;
        }
        None if to_eof => {
            reader.read_to_end(&mut message.body)?;
        }
        None => {}
    }
    Ok(Some(message))
}

/// Writes `message` with its headers (minus `Content-Length` and `Transfer-Encoding`),
/// then its own `Content-Length`.
pub fn write_message(stream: &mut impl Write, message: &Message) -> io::Result<()> {
    let mut out = format!("{}\r\n", message.start);
    for (name, value) in &message.headers {
        let framing = ["content-length", "transfer-encoding"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !framing {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", message.body.len()));
    stream.write_all(out.as_bytes())?;
    stream.write_all(&message.body)?;
    stream.flush()
}

/// Serves HTTP/1.1 on 127.0.0.1 (any free port) with `handle`, one thread per connection,
/// until the test process ends.
pub fn serve<H>(handle: H) -> SocketAddr
where
    H: Fn(Message) -> Message + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let handle = Arc::clone(&handle);
            thread::spawn(move || {
                let _ = serve_connection(stream, handle.as_ref());
            });
        }
    });
    addr
}

fn serve_connection<H>(stream: TcpStream, handle: &H) -> io::Result<()>
where
    H: Fn(Message) -> Message,
{
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_message(&mut reader, false)? {
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        write_message(&mut writer, &handle(request))?;
        if close {
            break;
        }
    }
    Ok(())
}

/// A response with `status`, a JSON content type and `body`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Message {
    let mut all = vec![("content-type".to_owned(), "application/json".to_owned())];
    all.extend(
        headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Message {
        start: format!("HTTP/1.1 {status} {}", reason(status)),
        headers: all,
        body: body.as_bytes().to_vec(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        410 => "Gone",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}
