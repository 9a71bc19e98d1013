using Microsoft.Extensions.Logging;

namespace OrleansJobs.PlotterAgent;

/// <summary>
/// The simulated cable between the agent and its plotter, pulled and plugged through the control
/// file: <c>disconnect</c> unplugs it, <c>connect</c> (or no file) plugs it back; read every 200 ms.
/// While unplugged nothing is drawn and, through <see cref="LinkHandler"/>, no request goes out.
/// </summary>
public sealed class DeviceLink : IAsyncDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private readonly string _controlPath;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _polling = Task.CompletedTask;
    private string? _unreadable;

    private DeviceLink(string controlPath, ILogger logger)
    {
        _controlPath = controlPath;
        _logger = logger;
    }

    public bool IsConnected
    {
        get
        {
            lock (_gate)
            {
                return _connected.Task.IsCompleted;
            }
        }
    }

    /// <summary>Reads the control file once (an agent may start unplugged), then watches it.</summary>
    public static DeviceLink Start(string controlPath, ILogger logger)
    {
        var link = new DeviceLink(controlPath, logger);
        link.Apply(link.ReadControl() ?? true, initial: true);
        link._polling = link.PollAsync();
        return link;
    }

    /// <summary>Returns once the device is plugged in.</summary>
    public Task WaitConnectedAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _connected.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Runs <paramref name="draw"/> if the device is plugged in, and keeps it plugged in meanwhile; false when it is not.</summary>
    public bool TryDraw(Action draw)
    {
        // Unplugging takes the same lock: once "disconnected" is logged, nothing more is drawn.
        lock (_gate)
        {
            if (!_connected.Task.IsCompleted)
            {
                return false;
            }

            draw();
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _polling;
        _stop.Dispose();
    }

    private async Task PollAsync()
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (ReadControl() is { } connected)
                {
                    Apply(connected, initial: false);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>What the control file asks for: true plugged in, false unplugged, null unreadable or unknown (the link stays as it is).</summary>
    private bool? ReadControl()
    {
        string text;
        try
        {
            text = File.Exists(_controlPath) ? File.ReadAllText(_controlPath).Trim() : "connect";
        }
        catch (IOException ex)
        {
            return Unreadable(ex.Message); // being written: read again on the next poll
        }
        catch (UnauthorizedAccessException ex)
        {
            return Unreadable(ex.Message);
        }

        if (text.Length == 0 || text.Equals("connect", StringComparison.OrdinalIgnoreCase))
        {
            _unreadable = null;
            return true;
        }

        if (text.Equals("disconnect", StringComparison.OrdinalIgnoreCase))
        {
            _unreadable = null;
            return false;
        }

        return Unreadable($"it says '{text}', not 'connect' or 'disconnect'");
    }

    private bool? Unreadable(string why)
    {
        if (_unreadable != why)
        {
            _unreadable = why;
            _logger.LogWarning("Control file {Path} ignored: {Why}", _controlPath, why);
        }

        return null;
    }

    private void Apply(bool connected, bool initial)
    {
        lock (_gate)
        {
            if (connected == _connected.Task.IsCompleted && !initial)
            {
                return;
            }

            if (connected)
            {
                _connected.TrySetResult();
            }
            else if (_connected.Task.IsCompleted)
            {
                _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        if (connected && initial)
        {
            _logger.LogInformation("Device plugged in (control file {Path})", _controlPath);
        }
        else if (connected)
        {
            _logger.LogInformation("Reconnected: the device is plugged in again (control file {Path})", _controlPath);
        }
        else
        {
            _logger.LogWarning("Disconnected: the device is unplugged (control file {Path}); no request goes out and nothing is drawn until it says connect", _controlPath);
        }
    }
}
