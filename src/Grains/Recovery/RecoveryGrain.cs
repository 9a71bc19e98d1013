using Microsoft.Extensions.Options;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Recovery;

/// <summary>
/// Runs the cluster's recovery sweeps one at a time and remembers the last. While active it also
/// sweeps every <see cref="WatchdogOptions.RecoveryInterval"/>; every silo start and every member
/// that dies calls it, so it is re-activated on a live silo when its own silo goes.
/// </summary>
public sealed class RecoveryGrain(RecoverySweep sweep, IOptions<WatchdogOptions> options) : Grain, IRecoveryGrain
{
    private RecoveryRun? _last;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var interval = options.Value.RecoveryInterval;
        this.RegisterGrainTimer(PeriodicAsync, new GrainTimerCreationOptions { DueTime = interval, Period = interval, KeepAlive = true });
        return Task.CompletedTask;
    }

    async Task<RecoveryRun> IRecoveryGrain.TriggerAsync(string reason) => _last = await sweep.RunAsync(reason, CancellationToken.None);

    Task<RecoveryRun?> IRecoveryGrain.GetLastRunAsync() => Task.FromResult(_last);

    private async Task PeriodicAsync(CancellationToken cancellationToken) => _last = await sweep.RunAsync("periodic", cancellationToken);
}
