using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansJobs.Harness;

/// <summary>
/// A real child process under test (a silo or the API host): started with its own environment,
/// its output kept for failure messages, and killed when disposed so no test leaves one behind.
/// </summary>
public sealed partial class ManagedProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigCont = 18; // Linux numbering
    private const int SigStop = 19;
    private const int MaxLines = 400;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ManagedProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet &lt;dll&gt;</c> in the DLL's folder (so its appsettings.json is found).</summary>
    public static ManagedProcess StartDotnet(string name, string directory, string dll, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(directory, dll));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var managed = new ManagedProcess(name, process);
        process.OutputDataReceived += (_, e) => managed.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => managed.Keep(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {name}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>The last lines the process wrote, for failure messages.</summary>
    public string Output()
    {
        var text = new StringBuilder();
        foreach (var line in _lines)
        {
            text.AppendLine(line);
        }

        return text.ToString();
    }

    /// <summary>SIGKILL: no shutdown code runs, as when a machine or process dies.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, SigKill);
        }

        await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>SIGSTOP: the process stops running but keeps its sockets, as in a long pause, a stalled machine or a partition.</summary>
    public void Freeze()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, SigStop);
        }
    }

    /// <summary>SIGCONT: a frozen process runs again from where it stopped.</summary>
    public void Thaw()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, SigCont);
        }
    }

    /// <summary>SIGTERM: the graceful stop an orchestrator sends.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, SigTerm);
        }

        await WaitForExitAsync(timeout);
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} (pid {Pid}) did not exit within {timeout.TotalSeconds} s. Output:\n{Output()}");
        }
    }

    public int ExitCode => _process.ExitCode;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (TimeoutException)
        {
            // The kernel failed to reap it in time; nothing more a test can do.
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        while (_lines.Count > MaxLines && _lines.TryDequeue(out _))
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
