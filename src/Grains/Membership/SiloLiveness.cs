using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.Hosting;

namespace OrleansJobs.Membership;

/// <summary>
/// Whether this silo may still act. A silo that was frozen (a long pause, a stalled machine) or cut
/// off may have been declared dead meanwhile, and its jobs resumed elsewhere: it must not execute
/// another item or write anything. Every <see cref="LivenessOptions.ConfirmInterval"/> the silo reads
/// its own membership row; a read that finds it a member confirms it alive. A run checks
/// <see cref="EnsureAliveAsync"/> at each item boundary: while the last confirmation is recent (the
/// usual case) that costs nothing; after a freeze it is old, so the run waits for the next read, which
/// either confirms the silo or finds it dead. Found dead, the silo stops every run at once
/// (<see cref="DeclaredDead"/>), refuses every write, and has Orleans take it out of the process.
/// </summary>
public sealed partial class SiloLiveness(
    NpgsqlDataSource dataSource,
    SiloMembershipRow row,
    IClusterMembershipService membership,
    IOptions<LivenessOptions> options,
    TimeProvider time,
    ILogger<SiloLiveness> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly TimeSpan CallsDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _dead = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _silosStopping = new();
    private readonly TaskCompletionSource _callsDrained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _callsInFlight;
    private long _confirmedAt = time.GetTimestamp(); // when the read that last found this silo a member started
    private TaskCompletionSource _nextConfirmation = NewConfirmation();
    private Task _confirming = Task.CompletedTask;
    private volatile bool _shuttingDown;
    private bool _readFailing;

    private TimeSpan Window => options.Value.ConfirmWindow;

    /// <summary>Cancelled once this silo has learned that the cluster declared it dead.</summary>
    public CancellationToken DeclaredDead => _dead.Token;

    public bool IsDeclaredDead => _dead.IsCancellationRequested;

    /// <summary>
    /// Cancelled as the silo begins to stop, before any grain deactivates: runs stop at their next item
    /// boundary and call their grains no more (each grain's hand-over takes where its run stands), so
    /// no call can reach a grain that is going away (with no other silo, it could not be placed).
    /// </summary>
    public CancellationToken Stopping => _silosStopping.Token;

    /// <summary>
    /// A run is about to call its grain: false once the silo is stopping (then it must not). A true
    /// answer must be followed by <see cref="ExitRunCall"/>; the silo's stop waits for those calls.
    /// </summary>
    public bool TryEnterRunCall()
    {
        Interlocked.Increment(ref _callsInFlight);
        if (!_silosStopping.IsCancellationRequested)
        {
            return true;
        }

        ExitRunCall();
        return false;
    }

    public void ExitRunCall()
    {
        if (Interlocked.Decrement(ref _callsInFlight) == 0 && _silosStopping.IsCancellationRequested)
        {
            _callsDrained.TrySetResult();
        }
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(SiloLiveness), ServiceLifecycleStage.BecomeActive, StartAsync, _ => Task.CompletedTask);
        // Stopped first on shutdown: from then on the silo's own status changes are its own doing, not a verdict.
        lifecycle.Subscribe(nameof(SiloLiveness), ServiceLifecycleStage.Last, _ => Task.CompletedTask, StopAsync);
    }

    /// <summary>Throws <see cref="SiloDeclaredDeadException"/> once the silo knows it was declared dead.</summary>
    public void ThrowIfDeclaredDead()
    {
        if (_dead.IsCancellationRequested)
        {
            throw new SiloDeclaredDeadException();
        }
    }

    /// <summary>
    /// Returns at once while the silo was recently confirmed a member (or is shutting down on its own);
    /// otherwise waits for the next confirmation. Throws <see cref="SiloDeclaredDeadException"/> when the
    /// silo was declared dead.
    /// </summary>
    public ValueTask EnsureAliveAsync(CancellationToken cancellationToken)
    {
        ThrowIfDeclaredDead();
        return IsConfirmed() ? ValueTask.CompletedTask : WaitForConfirmationAsync(cancellationToken);
    }

    private bool IsConfirmed() => _shuttingDown || time.GetElapsedTime(Volatile.Read(ref _confirmedAt)) < Window;

    private async ValueTask WaitForConfirmationAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = Volatile.Read(ref _nextConfirmation).Task;
            ThrowIfDeclaredDead();
            if (IsConfirmed())
            {
                return;
            }

            await next.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Starts confirming (the silo lifecycle calls it as the silo becomes active).</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _confirming = Task.Run(() => ConfirmLoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops confirming: the silo shuts down on its own, so runs are not held from here on.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _shuttingDown = true;
        Signal();
        await _silosStopping.CancelAsync();
        if (Volatile.Read(ref _callsInFlight) > 0)
        {
            try
            {
                await _callsDrained.Task.WaitAsync(CallsDrainTimeout, cancellationToken);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                // A call that takes longer is to a grain in trouble; the hand-over does not need its answer.
            }
        }

        await _stopping.CancelAsync();
        await _confirming;
    }

    public void Dispose()
    {
        _dead.Dispose();
        _stopping.Dispose();
        _silosStopping.Dispose();
    }

    private async Task ConfirmLoopAsync(CancellationToken cancellationToken)
    {
        var interval = options.Value.ConfirmInterval;
        var due = time.GetTimestamp();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var started = time.GetTimestamp();
                // A tick that comes much later than it was due means this process was not running meanwhile.
                var punctual = time.GetElapsedTime(due, started) < Window / 2;
                if (await IsDeclaredDeadAsync(punctual, cancellationToken) is { } dead)
                {
                    if (dead)
                    {
                        await OnDeclaredDeadAsync();
                        return;
                    }

                    // What was read holds from when the read started: a freeze during the read makes it old at once.
                    Volatile.Write(ref _confirmedAt, started);
                    Signal();
                }

                due = time.GetTimestamp() + (long)(interval.TotalSeconds * time.TimestampFrequency);
                await Task.Delay(interval, time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    /// <summary>True: declared dead. False: confirmed a member. Null: no verdict this time.</summary>
    private async Task<bool?> IsDeclaredDeadAsync(bool punctual, CancellationToken cancellationToken)
    {
        if (membership.CurrentSnapshot.GetSiloStatus(row.Address) == SiloStatus.Dead)
        {
            return true;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Window);
            await using var command = dataSource.CreateCommand(SiloMembershipRow.StatusSql);
            row.AddParameters(command);
            var status = await command.ExecuteScalarAsync(timeout.Token);
            if (_readFailing)
            {
                _readFailing = false;
                LogReadRecovered(logger);
            }

            return status is int value && value == SiloMembershipRow.DeadStatus;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            if (!_readFailing)
            {
                _readFailing = true;
                LogReadFailed(logger, ex.GetType().Name, ex.Message);
            }

            // Nobody can declare this silo dead without writing the table this read cannot reach, so a
            // punctual tick is evidence enough. A late one is not: the silo may have been frozen for long.
            return punctual ? false : null;
        }
    }

    private async Task OnDeclaredDeadAsync()
    {
        LogDeclaredDead(logger, row.Address.ToParsableString());
        await _dead.CancelAsync();
        Signal();
        try
        {
            // Orleans takes a silo that reads its own death out of the process.
            await membership.Refresh();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogRefreshFailed(logger, ex.GetType().Name);
        }
    }

    /// <summary>Wakes every run waiting for a confirmation (each looks again: confirmed, dead, or wait on).</summary>
    private void Signal() => Interlocked.Exchange(ref _nextConfirmation, NewConfirmation()).TrySetResult();

    private static TaskCompletionSource NewConfirmation() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "This silo ({Silo}) was declared dead by the cluster while it was unresponsive: every run stops now, nothing more is written, and the silo leaves")]
    private static partial void LogDeclaredDead(ILogger logger, string silo);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Liveness: the membership table cannot be read ({Error}: {Message}); runs go on while this silo keeps running on time")]
    private static partial void LogReadFailed(ILogger logger, string error, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Liveness: the membership table can be read again")]
    private static partial void LogReadRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Liveness: refreshing membership after this silo's death failed ({Error})")]
    private static partial void LogRefreshFailed(ILogger logger, string error);
}
