using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Concurrency;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Devices;

/// <summary>
/// Hands the devices of one kind to the jobs that asked for the kind. The queue is a
/// <see cref="ResourceArbiter"/> that never grants by itself (it takes the waiting jobs over from
/// the job index after its activation was lost); a device is given by asking the device itself,
/// which agrees only while it is Online, ownerless and awaited by nobody. Devices say when they are
/// free; a periodic look at the <c>devices</c> table covers a word that was lost.
/// </summary>
[Reentrant]
public sealed partial class DevicePoolGrain(NpgsqlDataSource dataSource, TimeProvider time, ILogger<DevicePoolGrain> logger)
    : Grain, IDevicePoolGrain, IDisposable
{
    // Jobs waiting here hold nothing: a job is out of the pool once it has a device.
    private const string HoldersSql = "SELECT job_id FROM job_index WHERE false AND device_kind = @key";

    private const string WaitingSql = """
        SELECT job_id, priority, created_at FROM job_index
        WHERE device_kind = @key AND device_id IS NULL AND status = 'Queued' AND (run_after IS NULL OR run_after <= now())
        ORDER BY priority DESC, created_at, job_id
        LIMIT @limit
        """;

    private const string FreeDevicesSql = "SELECT device_id FROM devices WHERE kind = @kind AND health = 'Online' ORDER BY device_id";

    /// <summary>How often the pool looks for free devices itself while jobs wait.</summary>
    internal static readonly TimeSpan LookPeriod = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _handing = new(1, 1); // one hand-out at a time: each device goes to one job
    private ResourceArbiter _arbiter = null!;

    private string Kind => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _arbiter = new ResourceArbiter(ResourceKey.DevicePool(Kind), new ResourceSource(HoldersSql, WaitingSql, Kind), GrainFactory, dataSource, time, logger)
        {
            HandOutOnly = true,
        };
        _arbiter.Queue.Limit = int.MaxValue;
        this.RegisterGrainTimer(LookAsync, new GrainTimerCreationOptions { DueTime = ResourceArbiter.FirstCheck, Period = LookPeriod, Interleave = true, KeepAlive = false });
        this.RegisterGrainTimer(_arbiter.CheckAsync, new GrainTimerCreationOptions
        {
            DueTime = ResourceArbiter.FirstCheck, Period = ResourceArbiter.CheckPeriod, Interleave = true, KeepAlive = false,
        });
        await _arbiter.ActivateAsync(cancellationToken);
    }

    public void Dispose() => _handing.Dispose();

    async Task<ResourceTicket> IResourceGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt)
    {
        var ticket = _arbiter.Request(jobId, priority, queuedAt);
        if (_arbiter.Queue.WaitingCount == 1 && ticket.Position == 1)
        {
            // Nobody waits ahead of it: the first free device is its own at once.
            foreach (var device in await FreeDevicesAsync())
            {
                if (await AssignAsync(jobId, device, tell: false))
                {
                    return new ResourceTicket(true, 0, 0, 0, Assigned: device);
                }
            }
        }

        return _arbiter.Queue.Ticket(jobId, grantHolders: false);
    }

    Task IResourceGrain.ReleaseAsync(string jobId)
    {
        _arbiter.Release(jobId);
        return Task.CompletedTask;
    }

    Task<ResourceAudit> IResourceGrain.AuditAsync(bool dryRun) => _arbiter.AuditAsync(dryRun, CancellationToken.None);

    Task<ResourceTicket> IResourceGrain.GetStatsAsync() => Task.FromResult(new ResourceTicket(false, 0, 0, _arbiter.Queue.WaitingCount));

    public async Task DeviceFreeAsync(string deviceId)
    {
        // The first in line; should it have left meanwhile, the next look gives the device to the one after.
        if (_arbiter.Queue.Members(1).Waiting.FirstOrDefault() is { } next)
        {
            await AssignAsync(next, deviceId, tell: true);
        }
    }

    /// <summary>Asks <paramref name="deviceId"/> to take <paramref name="jobId"/> as its owner; on yes the job leaves the queue (and is told, unless it is asking now).</summary>
    private async Task<bool> AssignAsync(string jobId, string deviceId, bool tell)
    {
        await _handing.WaitAsync();
        try
        {
            if (!_arbiter.Queue.IsKnown(jobId))
            {
                return false; // it left the queue meanwhile
            }

            var device = GrainFactory.GetGrain<IDeviceOwnershipGrain>(deviceId);
            if (!await device.TryAssignAsync(jobId))
            {
                return false;
            }

            _arbiter.Queue.Remove(jobId);
            LogAssigned(logger, Kind, deviceId, jobId);
        }
        finally
        {
            _handing.Release();
        }

        if (tell)
        {
            _ = TellAsync(jobId, deviceId);
        }

        return true;
    }

    private async Task TellAsync(string jobId, string deviceId)
    {
        try
        {
            if (!await GrainFactory.GetGrain<IResourceHolder>(jobId).GrantedAsync(ResourceKey.Device(deviceId)))
            {
                // It no longer waits: the device is free again (and says so), for the next job.
                await GrainFactory.GetGrain<IDeviceOwnershipGrain>(deviceId).ReleaseAsync(jobId);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The device's holder check asks the job, and frees the device if the job never took it.
            LogTellFailed(logger, ex, jobId, deviceId);
        }
    }

    /// <summary>While jobs wait: the devices the table shows free, each offered to the next job in line.</summary>
    private async Task LookAsync(CancellationToken cancellationToken)
    {
        if (_arbiter.Queue.WaitingCount == 0)
        {
            return;
        }

        foreach (var device in await FreeDevicesAsync())
        {
            await DeviceFreeAsync(device);
        }
    }

    private async Task<List<string>> FreeDevicesAsync()
    {
        var devices = new List<string>();
        try
        {
            await using var command = dataSource.CreateCommand(FreeDevicesSql);
            command.Parameters.AddWithValue("kind", Kind);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                devices.Add(reader.GetString(0));
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogLookFailed(logger, ex, Kind); // devices that come free still say so
        }

        return devices;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Devices of kind {Kind}: {DeviceId} assigned to job {JobId}")]
    private static partial void LogAssigned(ILogger logger, string kind, string deviceId, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell job {JobId} it got device {DeviceId}; the device's holder check asks it")]
    private static partial void LogTellFailed(ILogger logger, Exception exception, string jobId, string deviceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Devices of kind {Kind}: the devices table could not be read")]
    private static partial void LogLookFailed(ILogger logger, Exception exception, string kind);
}
