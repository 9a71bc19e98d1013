using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Devices;

/// <summary>A device's ownership: its agent's claim of the owner job, the lease protocol, and the pool of its kind.</summary>
public sealed partial class DeviceGrain
{
    public async Task<WorkerClaimResult> ClaimAsync(string agent, TimeSpan? leaseDuration)
    {
        var s = state.State;
        if (!s.Exists)
        {
            return new WorkerClaimResult(null, [new("device", $"no device '{Id}' is registered")]);
        }

        if (s.Health == DeviceHealth.Offline || s.Agent != agent)
        {
            var why = s.Health == DeviceHealth.Offline
                ? $"device '{Id}' is Offline: its agent heartbeats it (POST /api/devices/{Id}/heartbeat) before it claims"
                : $"device '{Id}' is served by agent '{s.Agent}', not '{agent}'";
            return new WorkerClaimResult(null, [new("workerId", why)]);
        }

        if (s.Health == DeviceHealth.Faulted || Owner is not { } owner)
        {
            return new WorkerClaimResult(null, []); // nothing to run on it now
        }

        // The lease matches the device's silence: an agent that stops heartbeating loses both at once.
        var lease = await GrainFactory.GetGrain<IJobGrain>(owner).ClaimAsync(agent, leaseDuration ?? TimeSpan.FromSeconds(s.HeartbeatTimeoutSeconds));
        if (lease is null)
        {
            return new WorkerClaimResult(null, []);
        }

        _busyWith = owner;
        await SaveShownAsync();
        LogClaimed(logger, Id, owner, agent);
        return new WorkerClaimResult(lease, []);
    }

    Task<ResourceTicket> IResourceGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt)
    {
        if (!state.State.Exists)
        {
            _arbiter.Release(jobId);
            return Task.FromResult(new ResourceTicket(false, 0, 1, 0, Refusal: $"device '{Id}' is not registered"));
        }

        return Task.FromResult(_arbiter.Request(jobId, priority, queuedAt));
    }

    async Task IResourceGrain.ReleaseAsync(string jobId)
    {
        _arbiter.Release(jobId);
        if (_busyWith == jobId)
        {
            _busyWith = null;
            await SaveShownAsync();
        }

        OfferToPool();
    }

    async Task<ResourceAudit> IResourceGrain.AuditAsync(bool dryRun)
    {
        var audit = await _arbiter.AuditAsync(dryRun, CancellationToken.None);
        if (!dryRun && _busyWith is { } busy && audit.ReleasedHolders.Contains(busy))
        {
            _busyWith = null;
            await SaveShownAsync();
        }

        if (!dryRun && audit.ReleasedHolders.Count > 0)
        {
            OfferToPool();
        }

        return audit;
    }

    Task<bool> IDeviceOwnershipGrain.TryAssignAsync(string jobId)
    {
        if (!IsFree)
        {
            return Task.FromResult(false);
        }

        return Task.FromResult(_arbiter.Request(jobId, 0, time.GetUtcNow()).Granted);
    }

    /// <summary>Online, its holders known, owned by nobody and awaited by nobody: a job of the pool may have it.</summary>
    private bool IsFree => state.State is { Exists: true, Health: DeviceHealth.Online } && _arbiter.HoldersKnown
        && _arbiter.Queue.HolderCount == 0 && _arbiter.Queue.WaitingCount == 0;

    /// <summary>Tells the pool of its kind that it is free (the pool also looks for itself now and then).</summary>
    private void OfferToPool()
    {
        if (IsFree)
        {
            _ = OfferAsync(state.State.Kind);
        }

        async Task OfferAsync(string kind)
        {
            try
            {
                await GrainFactory.GetGrain<IDevicePoolGrain>(kind).DeviceFreeAsync(Id);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogOfferFailed(logger, ex, Id, kind);
            }
        }
    }

    Task<ResourceTicket> IResourceGrain.GetStatsAsync() =>
        Task.FromResult(new ResourceTicket(false, _arbiter.Queue.HolderCount, 1, _arbiter.Queue.WaitingCount, Owner));
}
