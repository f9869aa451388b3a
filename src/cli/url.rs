//! A page's URL query as an `nca run` command line: `?model=trained/mnist.safetensors&digit=3`
//! is `nca run --model trained/mnist.safetensors --digit 3`, so a link opens the same scene the
//! command does, judged by the same parser and the same checks.

/// The options of `nca run` a page takes. The rest write files or exit (screenshots, reports,
/// frame counts), or name folders a page does not have.
pub const PAGE_OPTIONS: &[&str] = &[
    "model",
    "size",
    "speed",
    "seed",
    "view",
    "plant",
    "digit",
    "digit-image",
    "chimera",
    "adversaries",
    "adversary",
    "canvas",
    "dark",
    "kiosk",
    "scenario",
    "monkey",
];

/// Options that take no value (`?kiosk` or `?kiosk=` or `?kiosk=true`).
const SWITCHES: &[&str] = &["dark", "kiosk"];

/// The command line a URL query (with or without its leading `?`) stands for.
pub fn command_line(query: &str) -> Result<Vec<String>, String> {
    let mut args = vec!["nca".to_string(), "run".to_string()];
    for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name)?.replace('_', "-");
        let value = decode(raw_value)?;
        if !PAGE_OPTIONS.contains(&name.as_str()) {
            return Err(format!("unknown URL parameter '{name}': a page takes {}", PAGE_OPTIONS.join(", ")));
        }
        if SWITCHES.contains(&name.as_str()) {
            match value.as_str() {
                "" | "1" | "true" | "yes" => args.push(format!("--{name}")),
                "0" | "false" | "no" => {}
                _ => return Err(format!("URL parameter '{name}={value}': '{name}' is on or off (give it without a value, or =0)")),
            }
            continue;
        }
        if value.is_empty() {
            return Err(format!("URL parameter '{name}' needs a value ('{name}=…')"));
        }
        args.push(format!("--{name}"));
        args.push(value);
    }
    Ok(args)
}

/// The parsed `nca run` command a URL query stands for, or a one-line reason.
pub fn parse_query(query: &str) -> Result<super::Cli, String> {
    use clap::Parser;
    let args = command_line(query)?;
    super::Cli::try_parse_from(args).map_err(|e| in_url_words(&super::one_line_usage_error(&e.render().to_string())))
}

/// The parser's words for a command line in a URL's: `'--size <SIZE>'` is the URL parameter
/// `'size'`, and a page has no `--help` to point to.
fn in_url_words(message: &str) -> String {
    let mut text = message.trim_end_matches(" (see --help)").to_string();
    while let Some(start) = text.find("'--") {
        let Some(len) = text[start + 1..].find('\'') else { break };
        let flag = &text[start + 3..start + 1 + len];
        let name = flag.split(' ').next().unwrap_or(flag).to_string();
        text.replace_range(start..start + len + 2, &format!("URL parameter '{name}'"));
    }
    text
}

/// Percent-decoding, with `+` as a space (as forms write queries).
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(byte.ok_or_else(|| format!("URL parameter '{text}': '%' must be followed by two hex digits"))?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("URL parameter '{text}' is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_becomes_the_run_command_it_stands_for() {
        let args = command_line("?model=trained%2Fmnist.safetensors&digit=3&digit=7%4040,32&kiosk&dark=0&seed=5").unwrap();
        assert_eq!(
            args,
            ["nca", "run", "--model", "trained/mnist.safetensors", "--digit", "3", "--digit", "7@40,32", "--kiosk", "--seed", "5"]
        );
        assert_eq!(command_line("").unwrap(), ["nca", "run"]);
        assert_eq!(command_line("chimera=3/5&size=96").unwrap(), ["nca", "run", "--chimera", "3/5", "--size", "96"]);
    }

    #[test]
    fn a_query_the_page_cannot_follow_is_refused_with_its_reason() {
        assert!(command_line("?screenshot=x.png").unwrap_err().contains("unknown URL parameter 'screenshot'"));
        assert!(command_line("?model=").unwrap_err().contains("needs a value"));
        assert!(command_line("?kiosk=maybe").unwrap_err().contains("on or off"));
        assert!(command_line("?model=%zz").unwrap_err().contains("two hex digits"));
        assert!(command_line("?model=%ff").unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn a_bad_value_is_refused_by_the_same_parser_as_the_command_line() {
        let error = parse_query("?size=huge").unwrap_err();
        assert!(error.starts_with("error: invalid value 'huge' for URL parameter 'size':"), "{error}");
        assert!(!error.contains("--"), "{error}");
        assert!(!error.contains('\n'), "{error}");
        assert!(parse_query("?model=trained/mnist.safetensors&chimera=3/5").is_ok());
    }

    #[test]
    fn every_page_option_is_an_option_of_nca_run() {
        use clap::CommandFactory;
        let cli = super::super::Cli::command();
        let run = cli.find_subcommand("run").expect("nca run exists");
        for name in PAGE_OPTIONS {
            assert!(run.get_arguments().any(|a| a.get_long() == Some(name)), "--{name} is not an option of nca run");
        }
    }
}
