//! Cutting long text into chunks no longer than a platform's limit (Discord: 2000
//! characters per message, 4096 per embed description).
//!
//! Text is cut at paragraph boundaries where possible, then at line boundaries, then
//! between words, and only as a last resort inside a word. A fenced code block is
//! never cut open: one that fits moves whole to the next chunk; one longer than the
//! limit is cut between its lines, and each piece is closed and reopened with the
//! same fence so every chunk renders as valid Markdown. Lengths count Unicode scalar
//! values (`char`s), and cuts always fall on `char` boundaries.

/// The smallest limit that leaves room for a code fence pair around some content.
pub const MIN_LIMIT: usize = 32;

fn clen(s: &str) -> usize {
    s.chars().count()
}

/// One unbreakable piece and the separator that joins it to the piece before it.
struct Atom {
    sep: &'static str,
    text: String,
}

enum Block<'a> {
    Paragraph(Vec<&'a str>),
    Code {
        open: &'a str,
        lines: Vec<&'a str>,
        /// The closing fence line as written, or a fence to close an unclosed block.
        close: String,
        /// The fence run (e.g. "```" or "~~~~"), for reopening after a cut.
        fence: String,
    },
}

/// A fence opener: a run of three or more backticks or tildes (after indentation).
fn fence_of(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = t.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

/// Whether `line` closes a fence of `n` `c`s: only that character, at least as many.
fn closes(line: &str, c: char, n: usize) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|x| x == c) && t.chars().count() >= n
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((c, n)) = fence_of(line) {
            if !para.is_empty() {
                out.push(Block::Paragraph(std::mem::take(&mut para)));
            }
            let fence: String = std::iter::repeat_n(c, n).collect();
            let mut body = Vec::new();
            let mut close = None;
            for inner in lines.by_ref() {
                if closes(inner, c, n) {
                    close = Some(inner.to_string());
                    break;
                }
                body.push(inner);
            }
            out.push(Block::Code {
                open: line,
                lines: body,
                close: close.unwrap_or_else(|| fence.clone()),
                fence,
            });
        } else if line.trim().is_empty() {
            if !para.is_empty() {
                out.push(Block::Paragraph(std::mem::take(&mut para)));
            }
        } else {
            para.push(line);
        }
    }
    if !para.is_empty() {
        out.push(Block::Paragraph(para));
    }
    out
}

/// Splits `s` into pieces of at most `limit` chars.
fn hard_split(s: &str, limit: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(limit).map(|c| c.iter().collect()).collect()
}

fn paragraph_atoms(lines: &[&str], limit: usize, out: &mut Vec<Atom>) {
    let whole = lines.join("\n");
    if clen(&whole) <= limit {
        out.push(Atom {
            sep: "\n\n",
            text: whole,
        });
        return;
    }
    for (i, line) in lines.iter().enumerate() {
        let sep = if i == 0 { "\n\n" } else { "\n" };
        if clen(line) <= limit {
            out.push(Atom {
                sep,
                text: line.to_string(),
            });
            continue;
        }
        for (j, word) in line.split(' ').filter(|w| !w.is_empty()).enumerate() {
            let word_sep = if j == 0 { sep } else { " " };
            if clen(word) <= limit {
                out.push(Atom {
                    sep: word_sep,
                    text: word.to_string(),
                });
            } else {
                for (k, piece) in hard_split(word, limit).into_iter().enumerate() {
                    out.push(Atom {
                        sep: if k == 0 { word_sep } else { "" },
                        text: piece,
                    });
                }
            }
        }
    }
}

fn code_atoms(
    open: &str,
    lines: &[&str],
    close: &str,
    fence: &str,
    limit: usize,
    out: &mut Vec<Atom>,
) {
    let whole = std::iter::once(open)
        .chain(lines.iter().copied())
        .chain(std::iter::once(close))
        .collect::<Vec<_>>()
        .join("\n");
    if clen(&whole) <= limit {
        out.push(Atom {
            sep: "\n\n",
            text: whole,
        });
        return;
    }
    // Reopen with the same opening line (keeping the language), close with the same
    // fence run. An info string too long to repeat falls back to the bare fence.
    let open = open.trim();
    let close = fence;
    let (open, room) = if clen(open) + clen(close) + 2 < limit {
        (open, limit - clen(open) - clen(close) - 2)
    } else if 2 * clen(fence) + 2 < limit {
        (fence, limit - 2 * clen(fence) - 2)
    } else {
        // A fence longer than half the limit cannot be repeated: keep the text.
        for (i, piece) in hard_split(&whole, limit).into_iter().enumerate() {
            out.push(Atom {
                sep: if i == 0 { "\n\n" } else { "" },
                text: piece,
            });
        }
        return;
    };
    let mut pieces: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut current_len = 0usize;
    let push_line = |line: String,
                     pieces: &mut Vec<String>,
                     current: &mut Vec<String>,
                     current_len: &mut usize| {
        let add = clen(&line) + usize::from(!current.is_empty());
        if !current.is_empty() && *current_len + add > room {
            pieces.push(format!("{open}\n{}\n{close}", current.join("\n")));
            current.clear();
            *current_len = 0;
        }
        *current_len += clen(&line) + usize::from(!current.is_empty());
        current.push(line);
    };
    for line in lines {
        if clen(line) <= room {
            push_line(
                line.to_string(),
                &mut pieces,
                &mut current,
                &mut current_len,
            );
        } else {
            for piece in hard_split(line, room) {
                push_line(piece, &mut pieces, &mut current, &mut current_len);
            }
        }
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(format!("{open}\n{}\n{close}", current.join("\n")));
    }
    for (i, text) in pieces.into_iter().enumerate() {
        out.push(Atom {
            sep: if i == 0 { "\n\n" } else { "\n" },
            text,
        });
    }
}

/// Splits `text` into chunks of at most `limit` chars (see the module docs).
///
/// # Panics
/// If `limit` is below [`MIN_LIMIT`]: that is a programming error, not input.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    assert!(
        limit >= MIN_LIMIT,
        "split limit {limit} is below {MIN_LIMIT}"
    );
    let mut atoms = Vec::new();
    for block in blocks(text) {
        match block {
            Block::Paragraph(lines) => paragraph_atoms(&lines, limit, &mut atoms),
            Block::Code {
                open,
                lines,
                close,
                fence,
            } => code_atoms(open, &lines, &close, &fence, limit, &mut atoms),
        }
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0usize;
    for atom in atoms {
        let atom_len = clen(&atom.text);
        if current.is_empty() {
            current = atom.text;
            current_len = atom_len;
        } else if current_len + clen(atom.sep) + atom_len <= limit {
            current.push_str(atom.sep);
            current.push_str(&atom.text);
            current_len += clen(atom.sep) + atom_len;
        } else {
            chunks.push(std::mem::take(&mut current));
            current = atom.text;
            current_len = atom_len;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences(chunk: &str) -> usize {
        chunk
            .lines()
            .filter(|l| l.trim_start().starts_with("```"))
            .count()
    }

    fn assert_within(chunks: &[String], limit: usize) {
        for c in chunks {
            assert!(
                clen(c) <= limit,
                "chunk of {} chars > {limit}: {c:?}",
                clen(c)
            );
            assert!(!c.is_empty());
        }
    }

    #[test]
    fn short_text_is_one_chunk_unchanged() {
        assert_eq!(split("hello\n\nworld", 100), ["hello\n\nworld"]);
        assert!(split("", 100).is_empty());
    }

    #[test]
    fn paragraphs_are_packed_and_cut_between() {
        let paras: Vec<String> = (0..10)
            .map(|i| format!("paragraph {i} ").repeat(4).trim().to_string())
            .collect();
        let text = paras.join("\n\n");
        let chunks = split(&text, 120);
        assert_within(&chunks, 120);
        assert!(chunks.len() > 1);
        assert_eq!(
            chunks.join("\n\n"),
            text,
            "only paragraph boundaries were used"
        );
    }

    #[test]
    fn a_long_paragraph_is_cut_at_lines_then_words() {
        let line = "word ".repeat(30).trim().to_string(); // 149 chars
        let text = format!("{line}\n{line}");
        let chunks = split(&text, 100);
        assert_within(&chunks, 100);
        let words: Vec<&str> = chunks.iter().flat_map(|c| c.split_whitespace()).collect();
        assert_eq!(words.len(), 60, "no word lost or cut");
        assert!(words.iter().all(|w| *w == "word"));
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries_and_counted_in_chars() {
        let text = "日本語のテキスト ".repeat(300) + &"é".repeat(250);
        let chunks = split(&text, 100);
        assert_within(&chunks, 100);
        let joined: String = chunks
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let original: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(joined, original, "every character kept, in order");
        // A word longer than the limit is the only thing cut inside.
        assert!(
            chunks
                .iter()
                .any(|c| c.chars().all(|ch| ch == 'é') && clen(c) == 100)
        );
    }

    #[test]
    fn a_code_block_that_fits_moves_whole_to_the_next_chunk() {
        let code = "```rust\nfn main() {\n\n    println!(\"hi\");\n}\n```";
        let text = format!("{}\n\n{code}", "intro text ".repeat(8).trim());
        let chunks = split(&text, 90);
        assert_within(&chunks, 90);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1], code,
            "the blank line inside the block did not split it"
        );
    }

    #[test]
    fn a_code_block_longer_than_the_limit_is_closed_and_reopened() {
        let body: Vec<String> = (0..40).map(|i| format!("let x{i} = {i} * 2;")).collect();
        let text = format!("Before.\n\n```rust\n{}\n```\n\nAfter.", body.join("\n"));
        let chunks = split(&text, 120);
        assert_within(&chunks, 120);
        assert!(chunks.len() > 3);
        for c in &chunks {
            assert_eq!(fences(c) % 2, 0, "unbalanced fence in {c:?}");
        }
        let code_chunks: Vec<&String> = chunks.iter().filter(|c| c.contains("let x")).collect();
        assert!(
            code_chunks.iter().all(|c| c.contains("```rust\n")),
            "language kept"
        );
        let lines: Vec<&str> = chunks
            .iter()
            .flat_map(|c| c.lines())
            .filter(|l| l.starts_with("let x"))
            .collect();
        assert_eq!(lines, body, "every code line kept once, in order");
        assert!(chunks.last().unwrap().ends_with("After."));
    }

    #[test]
    fn an_overlong_code_line_is_cut_inside_its_fences() {
        let text = format!("```\n{}\n```", "x".repeat(300));
        let chunks = split(&text, 64);
        assert_within(&chunks, 64);
        for c in &chunks {
            assert_eq!(fences(c), 2);
        }
        let xs: usize = chunks.iter().map(|c| c.matches('x').count()).sum();
        assert_eq!(xs, 300);
    }

    #[test]
    fn an_unclosed_fence_is_closed_when_cut() {
        let text = format!("```\n{}", "line\n".repeat(40));
        let chunks = split(&text, 50);
        assert_within(&chunks, 50);
        for c in &chunks {
            assert_eq!(fences(c) % 2, 0);
        }
    }

    #[test]
    fn tilde_fences_and_longer_fences_are_code_blocks_too() {
        // A four-backtick block may contain a three-backtick line.
        let inner = "```\nnot the end\n```";
        let text = format!("Intro.\n\n````md\n{inner}\n````\n\nOutro.");
        let chunks = split(&text, 200);
        assert_eq!(chunks, [text], "fits: unchanged");
        let long = format!("````md\n{}\n````", [inner; 12].join("\n"));
        let chunks = split(&long, 60);
        assert_within(&chunks, 60);
        for c in &chunks {
            assert!(c.starts_with("````md\n") && c.ends_with("\n````"), "{c:?}");
        }
        let tilde = format!("~~~\n{}~~~", "let a = 1;\n".repeat(20));
        let chunks = split(&tilde, 50);
        assert_within(&chunks, 50);
        for c in &chunks {
            assert!(c.starts_with("~~~\n") && c.ends_with("\n~~~"), "{c:?}");
        }
    }

    #[test]
    fn a_short_unclosed_fence_is_closed_and_the_closing_line_is_kept() {
        assert_eq!(
            split("Intro\n\n```\ncode", 100),
            ["Intro\n\n```\ncode\n```"]
        );
        let text = "```rust\nfn f() {}\n``````";
        assert_eq!(split(text, 100), [text]);
    }

    #[test]
    #[should_panic(expected = "below")]
    fn a_tiny_limit_is_a_programming_error() {
        split("abc", 4);
    }
}
