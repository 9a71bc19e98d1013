using System.Diagnostics.Metrics;
using Npgsql;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>
/// The gauges that need the database (meter <see cref="MeterName"/>): jobs not yet final by type
/// and status, devices by kind and state. One query per collection at most, and at most one a
/// second (<see cref="MaxAge"/>); a type or kind seen once is reported with 0 when it has none.
/// </summary>
public sealed partial class JobGauges : IDisposable
{
    public const string MeterName = "OrleansJobs.Api";

    /// <summary>How long one reading serves collections.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    /// <summary>The longest a collection waits for the query; then the last reading stands.</summary>
    private static readonly TimeSpan QueryBudget = TimeSpan.FromSeconds(2);

    private static readonly string[] ActiveStatuses = ["Queued", "Running", "Pausing", "Cancelling", "Paused"];
    private static readonly string[] DeviceStates = ["Online", "Busy", "Faulted", "Offline"];

    private const string Sql = """
        SELECT 'job', job_type, status, count(*) FROM job_index
         WHERE status IN ('Queued', 'Running', 'Pausing', 'Cancelling', 'Paused') GROUP BY job_type, status
        UNION ALL
        SELECT 'device', kind, health, count(*) FROM devices GROUP BY kind, health
        """;

    private readonly NpgsqlDataSource _database;
    private readonly TimeProvider _time;
    private readonly ILogger<JobGauges> _logger;
    private readonly Meter _meter;
    private readonly Lock _gate = new();
    private Reading _last = new(DateTimeOffset.MinValue, [], []);
    private Task<Reading>? _refresh;

    public JobGauges(IMeterFactory meters, NpgsqlDataSource database, TimeProvider time, ILogger<JobGauges> logger)
    {
        _database = database;
        _time = time;
        _logger = logger;
        _meter = meters.Create(MeterName);
        _meter.CreateObservableGauge("orleansjobs.jobs.active", () => Read().Jobs, "{job}", "Jobs not yet final, by type and status (from the job index)");
        _meter.CreateObservableGauge("orleansjobs.devices", () => Read().Devices, "{device}", "Devices by kind and state (from the devices table)");
    }

    public void Dispose() => _meter.Dispose();

    private Reading Read()
    {
        Task<Reading> refresh;
        lock (_gate)
        {
            if (_time.GetUtcNow() - _last.At < MaxAge)
            {
                return _last;
            }

            refresh = _refresh ??= QueryAsync();
        }

        try
        {
            // Collection callbacks are synchronous; a scrape waits a bounded time for its one query.
            if (refresh.Wait(QueryBudget))
            {
                return refresh.Result;
            }
        }
        catch (AggregateException ex)
        {
            LogReadFailed(_logger, ex.InnerException?.Message ?? ex.Message);
        }

        return _last;
    }

    private async Task<Reading> QueryAsync()
    {
        try
        {
            var jobs = new Dictionary<(string Type, string Status), long>();
            var devices = new Dictionary<(string Kind, string State), long>();
            await using (var command = _database.CreateCommand(Sql))
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    var into = reader.GetString(0) == "job" ? jobs : devices;
                    into[(reader.GetString(1), reader.GetString(2))] = reader.GetInt64(3);
                }
            }

            lock (_gate)
            {
                var known = _last;
                _last = new Reading(
                    _time.GetUtcNow(),
                    Fill(jobs, known.Jobs, "job_type", "status", ActiveStatuses),
                    Fill(devices, known.Devices, "kind", "state", DeviceStates));
                return _last;
            }
        }
        finally
        {
            lock (_gate)
            {
                _refresh = null;
            }
        }
    }

    /// <summary>Every state of every name seen now or before, 0 when it has none.</summary>
    private static Measurement<long>[] Fill(
        Dictionary<(string Name, string State), long> counts, Measurement<long>[] before, string nameLabel, string stateLabel, string[] states)
    {
        var names = counts.Keys.Select(k => k.Name)
            .Concat(before.Select(m => (string)m.Tags[0].Value!))
            .Distinct(StringComparer.Ordinal);
        return [.. names.SelectMany(name => states.Select(state => new Measurement<long>(
            counts.GetValueOrDefault((name, state)),
            new KeyValuePair<string, object?>(nameLabel, name),
            new KeyValuePair<string, object?>(stateLabel, state))))];
    }

    private sealed record Reading(DateTimeOffset At, Measurement<long>[] Jobs, Measurement<long>[] Devices);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The job and device gauges could not be read ({Error}); the last reading stands")]
    private static partial void LogReadFailed(ILogger logger, string error);
}
