//! The services file `lab` writes into a node and `labnode init` reads: one service per line,
//! in start order, `NAME [ready=PORT] -- COMMAND [ARG…]`; `#` starts a comment line.

use std::fmt;

/// One service to supervise.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Service {
    /// Its name (the log file is `<name>.log`).
    pub(super) name: String,
    /// The local port that accepts connections once the service is ready.
    pub(super) ready: Option<u16>,
    /// Program and arguments.
    pub(super) command: Vec<String>,
}

/// A malformed services file line.
#[derive(Debug, PartialEq)]
pub(super) struct ParseError {
    line: usize,
    message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole services file.
pub(super) fn parse(text: &str) -> Result<Vec<Service>, ParseError> {
    let mut services: Vec<Service> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default().to_owned();
        if services.iter().any(|s| s.name == name) {
            return Err(err(format!("service `{name}` is listed twice")));
        }
        let mut ready = None;
        loop {
            match words.next() {
                Some("--") => break,
                Some(option) => match option.strip_prefix("ready=") {
                    Some(port) => {
                        let port = port.parse::<u16>().map_err(|_| {
                            err(format!(
                                "`{option}`: expected ready=PORT with a port number"
                            ))
                        })?;
                        ready = Some(port);
                    }
                    None => {
                        return Err(err(format!(
                            "unknown option `{option}`: expected `ready=PORT` or `--`"
                        )));
                    }
                },
                None => return Err(err("expected `-- COMMAND` after the service name".into())),
            }
        }
        let command: Vec<String> = words.map(str::to_owned).collect();
        if command.is_empty() {
            return Err(err(format!("service `{name}` has no command after `--`")));
        }
        services.push(Service {
            name,
            ready,
            command,
        });
    }
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_parses_in_order() {
        let text = "# comment\n\nzk ready=2181 -- zookeeper-server-start.sh /c/zookeeper.properties\nkafka -- kafka-server-start.sh /c/server.properties\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "zk");
        assert_eq!(s[0].ready, Some(2181));
        assert_eq!(
            s[1].command,
            ["kafka-server-start.sh", "/c/server.properties"]
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(
            parse("a ready=x -- b").unwrap_err().to_string(),
            "line 1: `ready=x`: expected ready=PORT with a port number"
        );
        assert!(
            parse("\na b c")
                .unwrap_err()
                .to_string()
                .starts_with("line 2: unknown option `b`")
        );
        assert!(
            parse("a --")
                .unwrap_err()
                .to_string()
                .contains("no command")
        );
        assert!(
            parse("a")
                .unwrap_err()
                .to_string()
                .contains("expected `-- COMMAND`")
        );
        assert!(
            parse("a -- x\na -- y")
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
    }
}
