using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Concurrency;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Devices;

/// <summary>
/// A device: its definition and health (durable grain state, mirrored in the <c>devices</c> table on
/// every change but heartbeats) and its ownership, one job at a time, kept by a
/// <see cref="ResourceArbiter"/> that takes the jobs the job index shows owning or waiting for the
/// device over when the grain activates. Silence beyond the heartbeat timeout makes it Offline and a
/// fault Faulted; either pauses the job running on it. Reentrant, so that releases and reads go on
/// while a change waits for the database; changes take turns among themselves.
/// </summary>
[Reentrant]
public sealed partial class DeviceGrain(
    [PersistentState("device", OrleansJobsDatabase.JobStore)] IPersistentState<DeviceState> state,
    DeviceStore store,
    NpgsqlDataSource dataSource,
    TimeProvider time,
    ILogger<DeviceGrain> logger) : Grain, IDeviceGrain, IDeviceOwnershipGrain, IDisposable
{
    // Paused device jobs keep their device (the half-done work on it is theirs); queued ones that were granted it wait again.
    private const string HoldersSql = $"""
        SELECT job_id FROM job_index WHERE device_id = @key AND (status IN ({JobStatusSql.Running}) OR status = 'Paused')
        """;

    private const string WaitingSql = """
        SELECT job_id, priority, created_at FROM job_index
        WHERE device_id = @key AND status = 'Queued' AND (run_after IS NULL OR run_after <= now())
        ORDER BY priority DESC, created_at, job_id
        LIMIT @limit
        """;

    /// <summary>How often silence is checked for: well within a second of the timeout.</summary>
    internal static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(250);

    private const int WaitersShown = 20;

    private readonly SemaphoreSlim _changes = new(1, 1);
    private ResourceArbiter _arbiter = null!;
    private DateTimeOffset? _lastHeartbeat; // live; stored only with changes of health
    private string? _busyWith; // the owner job its agent claimed and runs
    private DeviceHealth? _shown; // the health as last written to the devices table

    private string Id => this.GetPrimaryKeyString();

    private string? Owner => _arbiter.Queue.Members(0).Holders.FirstOrDefault();

    /// <summary>The health shown: Online with a running owner is Busy.</summary>
    private DeviceHealth Health => state.State.Health == DeviceHealth.Online && _busyWith is not null ? DeviceHealth.Busy : state.State.Health;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _arbiter = new ResourceArbiter(ResourceKey.Device(Id), new ResourceSource(HoldersSql, WaitingSql, Id), GrainFactory, dataSource, time, logger);
        _arbiter.Queue.Limit = 1;
        this.RegisterGrainTimer(_arbiter.CheckAsync, new GrainTimerCreationOptions
        {
            DueTime = ResourceArbiter.FirstCheck, Period = ResourceArbiter.CheckPeriod, Interleave = true, KeepAlive = false,
        });
        // Kept alive while it watches: silence must be noticed without anyone calling.
        this.RegisterGrainTimer(WatchAsync, new GrainTimerCreationOptions { DueTime = WatchPeriod, Period = WatchPeriod, Interleave = true, KeepAlive = true });
        if (state.State.Exists && state.State.Health != DeviceHealth.Offline)
        {
            // A new activation (its silo died): the agent gets a full timeout from now to be heard.
            _lastHeartbeat = time.GetUtcNow();
        }

        _shown = state.State.Exists ? state.State.Health : null;
        await _arbiter.ActivateAsync(cancellationToken);
    }

    public void Dispose() => _changes.Dispose();

    public async Task<DeviceResult> RegisterAsync(DeviceDefinition definition, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            var errors = DeviceRules.Check(definition.Kind, definition.Name, definition.SettingsJson, definition.HeartbeatTimeoutSeconds);
            if (errors.Count > 0)
            {
                return new DeviceResult(DeviceOutcome.Invalid, null, errors);
            }

            var settings = DeviceRules.Normalize(definition.SettingsJson);
            if (state.State.Exists)
            {
                var s = state.State;
                var same = s.Kind == definition.Kind && s.Name == definition.Name && s.SettingsJson == settings && s.HeartbeatTimeoutSeconds == definition.HeartbeatTimeoutSeconds;
                return new DeviceResult(same ? DeviceOutcome.Existing : DeviceOutcome.Conflict, Snapshot(),
                    same ? [] : [new("id", $"device '{Id}' is registered with a different definition")]);
            }

            var now = time.GetUtcNow();
            state.State = new DeviceState
            {
                Exists = true, Kind = definition.Kind, Name = definition.Name, SettingsJson = settings, HeartbeatTimeoutSeconds = definition.HeartbeatTimeoutSeconds,
                Health = DeviceHealth.Offline, HealthSince = now, CreatedAt = now, UpdatedAt = now, Version = 1,
            };
            await SaveAsync(rowChanged: true);
            LogRegistered(logger, Id, definition.Kind, actor);
            return new DeviceResult(DeviceOutcome.Registered, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    public Task<DeviceSnapshot?> GetAsync() => Task.FromResult(state.State.Exists ? Snapshot() : null);

    public async Task<DeviceResult> UpdateAsync(DeviceUpdate update, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (!state.State.Exists)
            {
                return new DeviceResult(DeviceOutcome.NotFound, null, []);
            }

            var s = state.State;
            var name = update.Name ?? s.Name;
            var settings = update.SettingsJson ?? s.SettingsJson;
            var timeout = update.HeartbeatTimeoutSeconds ?? s.HeartbeatTimeoutSeconds;
            var errors = DeviceRules.Check(s.Kind, name, settings, timeout);
            if (errors.Count > 0)
            {
                return new DeviceResult(DeviceOutcome.Invalid, null, errors);
            }

            settings = DeviceRules.Normalize(settings);
            if (name != s.Name || settings != s.SettingsJson || timeout != s.HeartbeatTimeoutSeconds)
            {
                s.Name = name;
                s.SettingsJson = settings;
                s.HeartbeatTimeoutSeconds = timeout;
                s.UpdatedAt = time.GetUtcNow();
                await SaveAsync(rowChanged: true);
            }

            return new DeviceResult(DeviceOutcome.Updated, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<DeviceRemoveResult> RemoveAsync(string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (!state.State.Exists)
            {
                return new DeviceRemoveResult(DeviceOutcome.NotFound, null, []);
            }

            if (!_arbiter.HoldersKnown)
            {
                await _arbiter.CheckAsync(CancellationToken.None);
            }

            if (!_arbiter.HoldersKnown)
            {
                throw new DatabaseUnavailableException("the jobs owning the device cannot be read: nothing was removed");
            }

            var (holders, waiting) = _arbiter.Queue.Members(int.MaxValue);
            if (holders.Count + waiting.Count > 0)
            {
                return new DeviceRemoveResult(DeviceOutcome.InUse, holders.FirstOrDefault(), waiting);
            }

            await state.ClearStateAsync();
            state.State = new DeviceState();
            _shown = null;
            _busyWith = null;
            await store.DeleteAsync(Id);
            LogRemoved(logger, Id, actor);
            return new DeviceRemoveResult(DeviceOutcome.Removed, null, []);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<DeviceHeartbeatResult> HeartbeatAsync(DeviceHeartbeat heartbeat)
    {
        string? interrupted = null;
        var back = false;
        string? owner;
        DeviceHeartbeatResult result;
        await _changes.WaitAsync();
        try
        {
            var s = state.State;
            if (!s.Exists)
            {
                return new DeviceHeartbeatResult(DeviceOutcome.NotFound, null, null, []);
            }

            if (s.Agent is { } agent && agent != heartbeat.Agent && s.Health != DeviceHealth.Offline)
            {
                return new DeviceHeartbeatResult(DeviceOutcome.WrongAgent, Snapshot(), null,
                    [new("agentId", $"device '{Id}' is served by agent '{agent}' (another agent may take over once it is Offline)")]);
            }

            var now = time.GetUtcNow();
            _lastHeartbeat = now;
            var changed = s.Agent != heartbeat.Agent;
            s.Agent = heartbeat.Agent;
            var before = s.Health;
            if (heartbeat.Fault is { } fault)
            {
                if (before != DeviceHealth.Faulted || s.LastFault?.Text != fault)
                {
                    s.LastFault = new DeviceFault(now, fault, heartbeat.Agent);
                    interrupted = fault;
                    changed = true;
                }

                s.Health = DeviceHealth.Faulted;
            }
            else
            {
                s.Health = DeviceHealth.Online;
                back = before != DeviceHealth.Online;
            }

            if (heartbeat.CheckId is { } checkId && s.Check is { AnsweredAt: null } check && check.Id == checkId)
            {
                s.Check = check with { AnsweredAt = now, Ok = heartbeat.CheckOk ?? false, Detail = heartbeat.CheckDetail };
                changed = true;
            }

            if (s.Health != before)
            {
                s.HealthSince = now;
                changed = true;
                LogHealth(logger, Id, before, s.Health, heartbeat.Agent);
            }

            if (interrupted is not null)
            {
                _busyWith = null;
            }

            if (changed)
            {
                // Only changes are written: a heartbeat that changes nothing costs no database write.
                s.LastHeartbeatAt = now;
                await SaveAsync(rowChanged: true);
            }
            else
            {
                await SaveShownAsync();
            }

            owner = Owner;
            result = new DeviceHeartbeatResult(DeviceOutcome.Updated, Snapshot(), s.Check is { AnsweredAt: null } open ? open.Id : null, []);
        }
        finally
        {
            _changes.Release();
        }

        // Outside the turn of changes: the job may call back (it releases or keeps the device).
        if (owner is not null && interrupted is not null)
        {
            await TellAsync(owner, holder => holder.DeviceInterruptedAsync(Id, interrupted));
        }
        else if (owner is not null && back)
        {
            await TellAsync(owner, holder => holder.DeviceBackAsync(Id));
        }
        else if (back)
        {
            OfferToPool();
        }

        return result;
    }

    public async Task<DeviceResult> RequestCheckAsync(string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (!state.State.Exists)
            {
                return new DeviceResult(DeviceOutcome.NotFound, null, []);
            }

            state.State.Check = new DeviceCheck(Guid.NewGuid().ToString("N")[..12], time.GetUtcNow(), actor);
            await SaveAsync(rowChanged: false);
            return new DeviceResult(DeviceOutcome.Updated, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Stores the state (a new version), and the row too when it shows something new.</summary>
    private async Task SaveAsync(bool rowChanged)
    {
        state.State.Version++;
        await state.WriteStateAsync();
        if (rowChanged || _shown != Health)
        {
            await store.SaveAsync(Id, state.State, Health);
            _shown = Health;
        }
    }

    /// <summary>Writes the row when the health shown changed (Busy and Online are not stored in the grain state).</summary>
    private async Task SaveShownAsync()
    {
        if (state.State.Exists && _shown != Health)
        {
            state.State.Version++;
            await store.SaveAsync(Id, state.State, Health);
            _shown = Health;
        }
    }

    private DeviceSnapshot Snapshot()
    {
        var (holders, waiting) = _arbiter.Queue.Members(WaitersShown);
        var s = state.State;
        var lastHeartbeat = _lastHeartbeat is { } live && s.Health != DeviceHealth.Offline ? live : s.LastHeartbeatAt;
        return new DeviceSnapshot(Id, s.Kind, s.Name, s.SettingsJson, s.HeartbeatTimeoutSeconds, Health, s.Agent, lastHeartbeat, s.LastFault,
            holders.FirstOrDefault(), waiting, _arbiter.Queue.WaitingCount, s.Check, s.CreatedAt, s.UpdatedAt, s.Version, RuntimeIdentity);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} ({Kind}) registered by {Actor}")]
    private static partial void LogRegistered(ILogger logger, string deviceId, string kind, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} removed by {Actor}")]
    private static partial void LogRemoved(ILogger logger, string deviceId, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId}: {Before} -> {After} (agent {Agent})")]
    private static partial void LogHealth(ILogger logger, string deviceId, DeviceHealth before, DeviceHealth after, string? agent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId}: job {JobId} claimed by its agent {Agent}")]
    private static partial void LogClaimed(ILogger logger, string deviceId, string jobId, string agent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {DeviceId}: telling the pool of kind {Kind} that it is free failed; the pool looks for itself")]
    private static partial void LogOfferFailed(ILogger logger, Exception exception, string deviceId, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {DeviceId}: telling job {JobId} failed; its lease lapses on its own")]
    private static partial void LogTellFailed(ILogger logger, Exception exception, string deviceId, string jobId);
}
