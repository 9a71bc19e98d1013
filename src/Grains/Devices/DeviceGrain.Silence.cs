namespace OrleansJobs.Devices;

/// <summary>A device's silence: Offline after its heartbeat timeout, and the job running on it told.</summary>
public sealed partial class DeviceGrain
{
    /// <summary>Silence beyond the heartbeat timeout: the device is Offline, and the job running on it is paused.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var s = state.State;
        if (!s.Exists || s.Health == DeviceHealth.Offline || _lastHeartbeat is not { } last
            || time.GetUtcNow() - last < TimeSpan.FromSeconds(s.HeartbeatTimeoutSeconds))
        {
            return;
        }

        string? owner;
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (s.Health == DeviceHealth.Offline || _lastHeartbeat != last)
            {
                return; // heard from meanwhile
            }

            var before = s.Health;
            s.Health = DeviceHealth.Offline;
            s.HealthSince = time.GetUtcNow();
            s.LastHeartbeatAt = last;
            _busyWith = null;
            LogHealth(logger, Id, before, DeviceHealth.Offline, s.Agent);
            await SaveAsync(rowChanged: true);
            owner = Owner;
        }
        finally
        {
            _changes.Release();
        }

        if (owner is not null)
        {
            await TellAsync(owner, holder => holder.DeviceInterruptedAsync(Id, DeviceCauses.HeartbeatLost));
        }
    }

    private async Task TellAsync(string jobId, Func<IDeviceHolder, Task> call)
    {
        try
        {
            await call(GrainFactory.GetGrain<IDeviceHolder>(jobId));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The job's own lease lapses after the same silence: it pauses by itself.
            LogTellFailed(logger, ex, Id, jobId);
        }
    }
}
