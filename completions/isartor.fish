# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_isartor_global_optspecs
    string join \n config= h/help V/version
end

function __fish_isartor_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_isartor_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_isartor_using_subcommand
    set -l cmd (__fish_isartor_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c isartor -n "__fish_isartor_needs_command" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_needs_command" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_needs_command" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "up" -d 'Start the daemon (in the foreground, or in the background with --detach)'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "stop" -d 'Stop the running daemon, letting in-flight requests finish'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "status" -d 'Say whether the daemon runs, with its pid, address and uptime'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "stats" -d 'Print the live numbers: requests and deflection per layer, latency, tokens and $ saved'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "top" -d 'A live dashboard: per-layer deflection, latency, tokens saved, recent requests'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "connect" -d 'Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "cache" -d 'See into and steer the caches: list, explain misses, forget, clear, export, import'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "usage" -d 'What the cloud cost and what was saved, from the local usage history'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "eval" -d 'Measure the semantic cache on labelled pairs or a replayed trace'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "completions" -d 'Print the shell completion script (bash, zsh, fish, powershell, elvish)'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "update" -d 'Upgrade this binary from the project\'s releases (checksum-verified, with rollback)'
complete -c isartor -n "__fish_isartor_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand up" -l wait -d 'With --detach: how long to wait for the daemon to become healthy' -r
complete -c isartor -n "__fish_isartor_using_subcommand up" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand up" -s d -l detach -d 'Run in the background (logs go to the log file in the data dir)'
complete -c isartor -n "__fish_isartor_using_subcommand up" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand up" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand stop" -l timeout -d 'How long to wait for the daemon to exit' -r
complete -c isartor -n "__fish_isartor_using_subcommand stop" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand stop" -l force -d 'Kill at once (SIGKILL) instead of draining in-flight requests'
complete -c isartor -n "__fish_isartor_using_subcommand stop" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand stop" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand status" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand status" -l json -d 'Print JSON for scripts'
complete -c isartor -n "__fish_isartor_using_subcommand status" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand status" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand stats" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand stats" -l json -d 'Print the snapshot as JSON'
complete -c isartor -n "__fish_isartor_using_subcommand stats" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand stats" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand top" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand top" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand top" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -f -a "claude" -d 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -f -a "copilot" -d 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -f -a "antigravity" -d 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -f -a "status" -d 'Each client: connected or not, how, which files, and whether the daemon answers'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and not __fish_seen_subcommand_from claude copilot antigravity status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from claude" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from claude" -l proxy -d 'Go through the CONNECT proxy (first-party mode) instead of setting the base URL'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from claude" -l disconnect -d 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from claude" -l dry-run -d 'Show what would change and change nothing'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from claude" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from claude" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -l shell -d 'The shell the env file is written for [default: from $SHELL]' -r -f -a "bash\t''
zsh\t''
fish\t''"
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -l print-env -d 'Print the variables for `eval` instead of writing a file'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -l disconnect -d 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -l dry-run -d 'Show what would change and change nothing'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from copilot" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -l shell -d 'The shell the env file is written for [default: from $SHELL]' -r -f -a "bash\t''
zsh\t''
fish\t''"
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -l print-env -d 'Print the variables for `eval` instead of writing a file'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -l disconnect -d 'Undo an earlier connect: put back the exact previous bytes (or remove what was added)'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -l dry-run -d 'Show what would change and change nothing'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from antigravity" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from status" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "claude" -d 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "copilot" -d 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "antigravity" -d 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "status" -d 'Each client: connected or not, how, which files, and whether the daemon answers'
complete -c isartor -n "__fish_isartor_using_subcommand connect; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "ls" -d 'List recent entries: key, layer, model, client, age, hits, size, the prompt\'s start'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "why" -d 'Explain a recent miss: the nearest cached request and what differed'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "forget" -d 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "clear" -d 'Remove every entry (of one layer with --exact or --semantic)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "export" -d 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "import" -d 'Load entries written by `export` into the running daemon'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and not __fish_seen_subcommand_from ls why forget clear export import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from ls" -l limit -d 'How many entries, newest first' -r
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from ls" -l client -d 'Only entries stored for this client (as `isartor stats` names it)' -r
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from ls" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from ls" -l json
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from why" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from why" -l last -d 'The last miss (the default)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from why" -l json
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from why" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from why" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from forget" -l prompt -d 'Entries whose last user turn is this text' -r
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from forget" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from forget" -l last -d 'The answer the last request got or stored'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from forget" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from clear" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from clear" -l exact
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from clear" -l semantic
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from clear" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from export" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from import" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List recent entries: key, layer, model, client, age, hits, size, the prompt\'s start'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "why" -d 'Explain a recent miss: the nearest cached request and what differed'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "forget" -d 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Remove every entry (of one layer with --exact or --semantic)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "import" -d 'Load entries written by `export` into the running daemon'
complete -c isartor -n "__fish_isartor_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand usage" -l since -d 'How far back to count: minutes, hours, days or weeks (90m, 24h, 7d, 4w), or all' -r
complete -c isartor -n "__fish_isartor_using_subcommand usage" -l by -d 'One line per client, model, session or UTC day' -r -f -a "client\t''
model\t''
session\t''
day\t''"
complete -c isartor -n "__fish_isartor_using_subcommand usage" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand usage" -l json -d 'Print JSON instead of a table'
complete -c isartor -n "__fish_isartor_using_subcommand usage" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand usage" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and not __fish_seen_subcommand_from semantic help" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand eval; and not __fish_seen_subcommand_from semantic help" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and not __fish_seen_subcommand_from semantic help" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and not __fish_seen_subcommand_from semantic help" -f -a "semantic" -d 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and not __fish_seen_subcommand_from semantic help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l pairs -d 'JSON lines {"a", "b", "same", "category"?}: per threshold, same-answer pairs served and traps served wrong, with the guard and with the cosine alone' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l trace -d 'JSON lines {"i", "prompt", "class"}: replay through the real daemon (echo provider), print deflection per layer and wrong hits' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l thresholds -d 'Thresholds for --pairs' -r
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l scores -d 'With --pairs: also write every pair scored to FILE, as JSON lines {"id", "a", "b", "same", "cosine", "guard"} ("served", or the rule that refused it), for analysis elsewhere' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l shadow -d 'With --trace: replay it in shadow mode too (semantic_mode = shadow), and compare what shadow mode reports with the wrong hits serve mode actually made'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -l verbose -d 'With --pairs: list the pairs served wrong and the same-answer pairs refused, at the configured similarity_threshold'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from semantic" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from help" -f -a "semantic" -d 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace'
complete -c isartor -n "__fish_isartor_using_subcommand eval; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand completions" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand completions" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand completions" -s V -l version -d 'Print version'
complete -c isartor -n "__fish_isartor_using_subcommand update" -l version -d 'Install this release tag (e.g. v0.2.0) instead of the latest, even an older one' -r
complete -c isartor -n "__fish_isartor_using_subcommand update" -l config -d 'Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]' -r -F
complete -c isartor -n "__fish_isartor_using_subcommand update" -l check -d 'Only say whether a newer release exists (exit 0: up to date, 10: newer available)'
complete -c isartor -n "__fish_isartor_using_subcommand update" -l dry-run -d 'Show what would be downloaded and replaced, change nothing'
complete -c isartor -n "__fish_isartor_using_subcommand update" -s y -l yes -d 'Do not ask for confirmation'
complete -c isartor -n "__fish_isartor_using_subcommand update" -l restart -d 'Restart a running daemon on the new version afterwards'
complete -c isartor -n "__fish_isartor_using_subcommand update" -s h -l help -d 'Print help'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "up" -d 'Start the daemon (in the foreground, or in the background with --detach)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "stop" -d 'Stop the running daemon, letting in-flight requests finish'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "status" -d 'Say whether the daemon runs, with its pid, address and uptime'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "stats" -d 'Print the live numbers: requests and deflection per layer, latency, tokens and $ saved'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "top" -d 'A live dashboard: per-layer deflection, latency, tokens saved, recent requests'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "connect" -d 'Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "cache" -d 'See into and steer the caches: list, explain misses, forget, clear, export, import'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "usage" -d 'What the cloud cost and what was saved, from the local usage history'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "eval" -d 'Measure the semantic cache on labelled pairs or a replayed trace'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "completions" -d 'Print the shell completion script (bash, zsh, fish, powershell, elvish)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "update" -d 'Upgrade this binary from the project\'s releases (checksum-verified, with rollback)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and not __fish_seen_subcommand_from up stop status stats top connect cache usage eval completions update help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "claude" -d 'Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "copilot" -d 'GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "antigravity" -d 'Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from connect" -f -a "status" -d 'Each client: connected or not, how, which files, and whether the daemon answers'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "ls" -d 'List recent entries: key, layer, model, client, age, hits, size, the prompt\'s start'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "why" -d 'Explain a recent miss: the nearest cached request and what differed'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "forget" -d 'Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "clear" -d 'Remove every entry (of one layer with --exact or --semantic)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "export" -d 'Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "import" -d 'Load entries written by `export` into the running daemon'
complete -c isartor -n "__fish_isartor_using_subcommand help; and __fish_seen_subcommand_from eval" -f -a "semantic" -d 'The semantic cache: serving rates on labelled pairs, and/or a replayed trace'
