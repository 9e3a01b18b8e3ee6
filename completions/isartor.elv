
use builtin;
use str;

set edit:completion:arg-completer[isartor] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'isartor'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'isartor'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand up 'Start the daemon (in the foreground, or in the background with --detach)'
            cand stop 'Stop the running daemon, letting in-flight requests finish'
            cand status 'Say whether the daemon runs, with its pid, address and uptime'
            cand stats 'Print the live numbers: requests and deflection per layer, latency, tokens and $ saved'
            cand top 'A live dashboard: per-layer deflection, latency, tokens saved, recent requests'
            cand connect 'Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)'
            cand cache 'See into and steer the caches: list, explain misses, forget, clear, export, import'
            cand usage 'What the cloud cost and what was saved, from the local usage history'
            cand eval 'Measure the semantic cache on labelled pairs or a replayed trace'
            cand completions 'Print the shell completion script (bash, zsh, fish, powershell, elvish)'
            cand update 'Upgrade this binary from the project''s releases (checksum-verified, with rollback)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;up'= {
            cand --wait 'With --detach: how long to wait for the daemon to become healthy'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -d 'Run in the background (logs go to the log file in the data dir)'
            cand --detach 'Run in the background (logs go to the log file in the data dir)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;stop'= {
            cand --timeout 'How long to wait for the daemon to exit'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --force 'Kill at once (SIGKILL) instead of draining in-flight requests'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;status'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --json 'Print JSON for scripts'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;stats'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --json 'Print the snapshot as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;top'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;connect'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand claude 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json'
            cand copilot 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell'
            cand antigravity 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell'
            cand status 'Each client: connected or not, how, which files, and whether the daemon answers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;connect;claude'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --proxy 'Go through the CONNECT proxy (first-party mode) instead of setting the base URL'
            cand --disconnect 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)'
            cand --dry-run 'Show what would change and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;connect;copilot'= {
            cand --shell 'The shell the env file is written for [default: from $SHELL]'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --print-env 'Print the variables for `eval` instead of writing a file'
            cand --disconnect 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)'
            cand --dry-run 'Show what would change and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;connect;antigravity'= {
            cand --shell 'The shell the env file is written for [default: from $SHELL]'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --print-env 'Print the variables for `eval` instead of writing a file'
            cand --disconnect 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)'
            cand --dry-run 'Show what would change and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;connect;status'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;connect;help'= {
            cand claude 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json'
            cand copilot 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell'
            cand antigravity 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell'
            cand status 'Each client: connected or not, how, which files, and whether the daemon answers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;connect;help;claude'= {
        }
        &'isartor;connect;help;copilot'= {
        }
        &'isartor;connect;help;antigravity'= {
        }
        &'isartor;connect;help;status'= {
        }
        &'isartor;connect;help;help'= {
        }
        &'isartor;cache'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List recent entries: key, layer, model, client, age, hits, size, the prompt''s start'
            cand why 'Explain a recent miss: the nearest cached request and what differed'
            cand forget 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)'
            cand clear 'Remove every entry (of one layer with --exact or --semantic)'
            cand export 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)'
            cand import 'Load entries written by `export` into the running daemon'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;cache;ls'= {
            cand --limit 'How many entries, newest first'
            cand --client 'Only entries stored for this client (as `isartor stats` names it)'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --json 'json'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;cache;why'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --last 'The last miss (the default)'
            cand --json 'json'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;cache;forget'= {
            cand --prompt 'Entries whose last user turn is this text'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --last 'The answer the last request got or stored'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;cache;clear'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --exact 'exact'
            cand --semantic 'semantic'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;cache;export'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;cache;import'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;cache;help'= {
            cand ls 'List recent entries: key, layer, model, client, age, hits, size, the prompt''s start'
            cand why 'Explain a recent miss: the nearest cached request and what differed'
            cand forget 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)'
            cand clear 'Remove every entry (of one layer with --exact or --semantic)'
            cand export 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)'
            cand import 'Load entries written by `export` into the running daemon'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;cache;help;ls'= {
        }
        &'isartor;cache;help;why'= {
        }
        &'isartor;cache;help;forget'= {
        }
        &'isartor;cache;help;clear'= {
        }
        &'isartor;cache;help;export'= {
        }
        &'isartor;cache;help;import'= {
        }
        &'isartor;cache;help;help'= {
        }
        &'isartor;usage'= {
            cand --since 'How far back to count: minutes, hours, days or weeks (90m, 24h, 7d, 4w), or all'
            cand --by 'One line per client, model, session or UTC day'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;eval'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand semantic 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;eval;semantic'= {
            cand --pairs 'JSON lines {"a", "b", "same", "category"?}: per threshold, same-answer pairs served and traps served wrong, with the guard and with the cosine alone'
            cand --trace 'JSON lines {"i", "prompt", "class"}: replay through the real daemon (echo provider), print deflection per layer and wrong hits'
            cand --thresholds 'Thresholds for --pairs'
            cand --scores 'With --pairs: also write every pair scored to FILE, as JSON lines {"id", "a", "b", "same", "cosine", "guard"} ("served", or the rule that refused it), for analysis elsewhere'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --shadow 'With --trace: replay it in shadow mode too (semantic_mode = shadow), and compare what shadow mode reports with the wrong hits serve mode actually made'
            cand --verbose 'With --pairs: list the pairs served wrong and the same-answer pairs refused, at the configured similarity_threshold'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;eval;help'= {
            cand semantic 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;eval;help;semantic'= {
        }
        &'isartor;eval;help;help'= {
        }
        &'isartor;completions'= {
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'isartor;update'= {
            cand --version 'Install this release tag (e.g. v0.2.0) instead of the latest, even an older one'
            cand --config 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]'
            cand --check 'Only say whether a newer release exists (exit 0: up to date, 10: newer available)'
            cand --dry-run 'Show what would be downloaded and replaced, change nothing'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --restart 'Restart a running daemon on the new version afterwards'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'isartor;help'= {
            cand up 'Start the daemon (in the foreground, or in the background with --detach)'
            cand stop 'Stop the running daemon, letting in-flight requests finish'
            cand status 'Say whether the daemon runs, with its pid, address and uptime'
            cand stats 'Print the live numbers: requests and deflection per layer, latency, tokens and $ saved'
            cand top 'A live dashboard: per-layer deflection, latency, tokens saved, recent requests'
            cand connect 'Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)'
            cand cache 'See into and steer the caches: list, explain misses, forget, clear, export, import'
            cand usage 'What the cloud cost and what was saved, from the local usage history'
            cand eval 'Measure the semantic cache on labelled pairs or a replayed trace'
            cand completions 'Print the shell completion script (bash, zsh, fish, powershell, elvish)'
            cand update 'Upgrade this binary from the project''s releases (checksum-verified, with rollback)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'isartor;help;up'= {
        }
        &'isartor;help;stop'= {
        }
        &'isartor;help;status'= {
        }
        &'isartor;help;stats'= {
        }
        &'isartor;help;top'= {
        }
        &'isartor;help;connect'= {
            cand claude 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json'
            cand copilot 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell'
            cand antigravity 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell'
            cand status 'Each client: connected or not, how, which files, and whether the daemon answers'
        }
        &'isartor;help;connect;claude'= {
        }
        &'isartor;help;connect;copilot'= {
        }
        &'isartor;help;connect;antigravity'= {
        }
        &'isartor;help;connect;status'= {
        }
        &'isartor;help;cache'= {
            cand ls 'List recent entries: key, layer, model, client, age, hits, size, the prompt''s start'
            cand why 'Explain a recent miss: the nearest cached request and what differed'
            cand forget 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)'
            cand clear 'Remove every entry (of one layer with --exact or --semantic)'
            cand export 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)'
            cand import 'Load entries written by `export` into the running daemon'
        }
        &'isartor;help;cache;ls'= {
        }
        &'isartor;help;cache;why'= {
        }
        &'isartor;help;cache;forget'= {
        }
        &'isartor;help;cache;clear'= {
        }
        &'isartor;help;cache;export'= {
        }
        &'isartor;help;cache;import'= {
        }
        &'isartor;help;usage'= {
        }
        &'isartor;help;eval'= {
            cand semantic 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace'
        }
        &'isartor;help;eval;semantic'= {
        }
        &'isartor;help;completions'= {
        }
        &'isartor;help;update'= {
        }
        &'isartor;help;help'= {
        }
    ]
    $completions[$command]
}
