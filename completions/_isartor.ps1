
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'isartor' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'isartor'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'isartor' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Start the daemon (in the foreground, or in the background with --detach)')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the running daemon, letting in-flight requests finish')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether the daemon runs, with its pid, address and uptime')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Print the live numbers: requests and deflection per layer, latency, tokens and $ saved')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'A live dashboard: per-layer deflection, latency, tokens saved, recent requests')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'See into and steer the caches: list, explain misses, forget, clear, export, import')
            [CompletionResult]::new('usage', 'usage', [CompletionResultType]::ParameterValue, 'What the cloud cost and what was saved, from the local usage history')
            [CompletionResult]::new('eval', 'eval', [CompletionResultType]::ParameterValue, 'Measure the semantic cache on labelled pairs or a replayed trace')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Upgrade this binary from the project''s releases (checksum-verified, with rollback)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;up' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'With --detach: how long to wait for the daemon to become healthy')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Run in the background (logs go to the log file in the data dir)')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Run in the background (logs go to the log file in the data dir)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;stop' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the daemon to exit')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Kill at once (SIGKILL) instead of draining in-flight requests')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;status' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON for scripts')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;stats' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the snapshot as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;top' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;connect' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('claude', 'claude', [CompletionResultType]::ParameterValue, 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json')
            [CompletionResult]::new('copilot', 'copilot', [CompletionResultType]::ParameterValue, 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell')
            [CompletionResult]::new('antigravity', 'antigravity', [CompletionResultType]::ParameterValue, 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each client: connected or not, how, which files, and whether the daemon answers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;connect;claude' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Go through the CONNECT proxy (first-party mode) instead of setting the base URL')
            [CompletionResult]::new('--disconnect', '--disconnect', [CompletionResultType]::ParameterName, 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;connect;copilot' {
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'The shell the env file is written for [default: from $SHELL]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--print-env', '--print-env', [CompletionResultType]::ParameterName, 'Print the variables for `eval` instead of writing a file')
            [CompletionResult]::new('--disconnect', '--disconnect', [CompletionResultType]::ParameterName, 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;connect;antigravity' {
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'The shell the env file is written for [default: from $SHELL]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--print-env', '--print-env', [CompletionResultType]::ParameterName, 'Print the variables for `eval` instead of writing a file')
            [CompletionResult]::new('--disconnect', '--disconnect', [CompletionResultType]::ParameterName, 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;connect;status' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;connect;help' {
            [CompletionResult]::new('claude', 'claude', [CompletionResultType]::ParameterValue, 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json')
            [CompletionResult]::new('copilot', 'copilot', [CompletionResultType]::ParameterValue, 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell')
            [CompletionResult]::new('antigravity', 'antigravity', [CompletionResultType]::ParameterValue, 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each client: connected or not, how, which files, and whether the daemon answers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;connect;help;claude' {
            break
        }
        'isartor;connect;help;copilot' {
            break
        }
        'isartor;connect;help;antigravity' {
            break
        }
        'isartor;connect;help;status' {
            break
        }
        'isartor;connect;help;help' {
            break
        }
        'isartor;cache' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List recent entries: key, layer, model, client, age, hits, size, the prompt''s start')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain a recent miss: the nearest cached request and what differed')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove every entry (of one layer with --exact or --semantic)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Load entries written by `export` into the running daemon')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;cache;ls' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many entries, newest first')
            [CompletionResult]::new('--client', '--client', [CompletionResultType]::ParameterName, 'Only entries stored for this client (as `isartor stats` names it)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'json')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;cache;why' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--last', '--last', [CompletionResultType]::ParameterName, 'The last miss (the default)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'json')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;cache;forget' {
            [CompletionResult]::new('--prompt', '--prompt', [CompletionResultType]::ParameterName, 'Entries whose last user turn is this text')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--last', '--last', [CompletionResultType]::ParameterName, 'The answer the last request got or stored')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;cache;clear' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'exact')
            [CompletionResult]::new('--semantic', '--semantic', [CompletionResultType]::ParameterName, 'semantic')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;cache;export' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;cache;import' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;cache;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List recent entries: key, layer, model, client, age, hits, size, the prompt''s start')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain a recent miss: the nearest cached request and what differed')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove every entry (of one layer with --exact or --semantic)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Load entries written by `export` into the running daemon')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;cache;help;ls' {
            break
        }
        'isartor;cache;help;why' {
            break
        }
        'isartor;cache;help;forget' {
            break
        }
        'isartor;cache;help;clear' {
            break
        }
        'isartor;cache;help;export' {
            break
        }
        'isartor;cache;help;import' {
            break
        }
        'isartor;cache;help;help' {
            break
        }
        'isartor;usage' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'How far back to count: minutes, hours, days or weeks (90m, 24h, 7d, 4w), or all')
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'One line per client, model, session or UTC day')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;eval' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('semantic', 'semantic', [CompletionResultType]::ParameterValue, 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;eval;semantic' {
            [CompletionResult]::new('--pairs', '--pairs', [CompletionResultType]::ParameterName, 'JSON lines {"a", "b", "same", "category"?}: per threshold, same-answer pairs served and traps served wrong, with the guard and with the cosine alone')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'JSON lines {"i", "prompt", "class"}: replay through the real daemon (echo provider), print deflection per layer and wrong hits')
            [CompletionResult]::new('--thresholds', '--thresholds', [CompletionResultType]::ParameterName, 'Thresholds for --pairs')
            [CompletionResult]::new('--scores', '--scores', [CompletionResultType]::ParameterName, 'With --pairs: also write every pair scored to FILE, as JSON lines {"id", "a", "b", "same", "cosine", "guard"} ("served", or the rule that refused it), for analysis elsewhere')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--shadow', '--shadow', [CompletionResultType]::ParameterName, 'With --trace: replay it in shadow mode too (semantic_mode = shadow), and compare what shadow mode reports with the wrong hits serve mode actually made')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'With --pairs: list the pairs served wrong and the same-answer pairs refused, at the configured similarity_threshold')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;eval;help' {
            [CompletionResult]::new('semantic', 'semantic', [CompletionResultType]::ParameterValue, 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;eval;help;semantic' {
            break
        }
        'isartor;eval;help;help' {
            break
        }
        'isartor;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'isartor;update' {
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Install this release tag (e.g. v0.2.0) instead of the latest, even an older one')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Only say whether a newer release exists (exit 0: up to date, 10: newer available)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would be downloaded and replaced, change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--restart', '--restart', [CompletionResultType]::ParameterName, 'Restart a running daemon on the new version afterwards')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'isartor;help' {
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Start the daemon (in the foreground, or in the background with --detach)')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the running daemon, letting in-flight requests finish')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether the daemon runs, with its pid, address and uptime')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Print the live numbers: requests and deflection per layer, latency, tokens and $ saved')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'A live dashboard: per-layer deflection, latency, tokens saved, recent requests')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'See into and steer the caches: list, explain misses, forget, clear, export, import')
            [CompletionResult]::new('usage', 'usage', [CompletionResultType]::ParameterValue, 'What the cloud cost and what was saved, from the local usage history')
            [CompletionResult]::new('eval', 'eval', [CompletionResultType]::ParameterValue, 'Measure the semantic cache on labelled pairs or a replayed trace')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Upgrade this binary from the project''s releases (checksum-verified, with rollback)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'isartor;help;up' {
            break
        }
        'isartor;help;stop' {
            break
        }
        'isartor;help;status' {
            break
        }
        'isartor;help;stats' {
            break
        }
        'isartor;help;top' {
            break
        }
        'isartor;help;connect' {
            [CompletionResult]::new('claude', 'claude', [CompletionResultType]::ParameterValue, 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json')
            [CompletionResult]::new('copilot', 'copilot', [CompletionResultType]::ParameterValue, 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell')
            [CompletionResult]::new('antigravity', 'antigravity', [CompletionResultType]::ParameterValue, 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each client: connected or not, how, which files, and whether the daemon answers')
            break
        }
        'isartor;help;connect;claude' {
            break
        }
        'isartor;help;connect;copilot' {
            break
        }
        'isartor;help;connect;antigravity' {
            break
        }
        'isartor;help;connect;status' {
            break
        }
        'isartor;help;cache' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List recent entries: key, layer, model, client, age, hits, size, the prompt''s start')
            [CompletionResult]::new('why', 'why', [CompletionResultType]::ParameterValue, 'Explain a recent miss: the nearest cached request and what differed')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove every entry (of one layer with --exact or --semantic)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Load entries written by `export` into the running daemon')
            break
        }
        'isartor;help;cache;ls' {
            break
        }
        'isartor;help;cache;why' {
            break
        }
        'isartor;help;cache;forget' {
            break
        }
        'isartor;help;cache;clear' {
            break
        }
        'isartor;help;cache;export' {
            break
        }
        'isartor;help;cache;import' {
            break
        }
        'isartor;help;usage' {
            break
        }
        'isartor;help;eval' {
            [CompletionResult]::new('semantic', 'semantic', [CompletionResultType]::ParameterValue, 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace')
            break
        }
        'isartor;help;eval;semantic' {
            break
        }
        'isartor;help;completions' {
            break
        }
        'isartor;help;update' {
            break
        }
        'isartor;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
