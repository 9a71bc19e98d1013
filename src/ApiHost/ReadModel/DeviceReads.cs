using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.ApiHost.Apis;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Devices;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>Devices: the live grain within the read budget, else the <c>devices</c> table; listings from the table.</summary>
public sealed class DeviceReads(IClusterClient cluster, NpgsqlDataSource database, IOptions<ApiHostOptions> options)
{
    private const string InterruptedSql = """
        SELECT job_id FROM job_index WHERE device_id = @id AND interruption IS NOT NULL ORDER BY created_at, job_id LIMIT 20
        """;

    /// <summary>The device (live), with the jobs it interrupted; from the table when its silo does not answer in time; null when none.</summary>
    public async Task<DeviceResponse?> ReadAsync(string id, CancellationToken cancellationToken)
    {
        var interrupted = await InterruptedAsync(id, cancellationToken);
        var (answered, device) = await LiveCalls.WithinAsync(cluster.GetGrain<IDeviceGrain>(id).GetAsync(), options.Value.LiveReadTimeout, cancellationToken);
        if (answered)
        {
            return device is null ? null : DeviceResponse.From(device, interrupted);
        }

        await using var command = database.CreateCommand("""
            SELECT kind, name, settings, heartbeat_timeout, health, agent, created_at, updated_at, version FROM devices WHERE device_id = @id
            """);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new DeviceResponse(id, reader.GetString(0), reader.GetString(1), JsonDocument.Parse(reader.GetString(2)).RootElement.Clone(), reader.GetInt32(3),
            Enum.Parse<DeviceHealth>(reader.GetString(4)), reader.IsDBNull(5) ? null : reader.GetString(5), null, null, null, [], 0, interrupted, null,
            reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetInt64(8));
    }

    public async Task<DevicePage> ListAsync(ListDevicesQuery query, CancellationToken cancellationToken)
    {
        var limit = query.Limit ?? ListJobsQuery.DefaultLimit;
        await using var command = database.CreateCommand($"""
            SELECT d.device_id, d.kind, d.name, d.health, d.health_since, d.agent,
                (SELECT j.job_id FROM job_index j WHERE j.device_id = d.device_id AND (j.status IN ({JobStatusSql.Running}) OR j.status = 'Paused')
                 ORDER BY j.updated_at DESC LIMIT 1)
            FROM devices d
            WHERE (@kind::text IS NULL OR d.kind = @kind) AND (@health::text IS NULL OR d.health = @health)
              AND (@after::text IS NULL OR d.device_id > @after)
            ORDER BY d.device_id LIMIT @limit
            """);
        command.Parameters.AddWithValue("kind", (object?)query.Kind ?? DBNull.Value);
        command.Parameters.AddWithValue("health", (object?)query.State?.Health.ToString() ?? DBNull.Value);
        command.Parameters.AddWithValue("after", (object?)query.Cursor ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit + 1);
        var items = new List<DeviceSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new DeviceSummary(reader.GetString(0), reader.GetString(1), reader.GetString(2), Enum.Parse<DeviceHealth>(reader.GetString(3)),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(items.Count - 1);
            next = items[^1].Id;
        }

        return new DevicePage(items, next);
    }

    private async Task<List<string>> InterruptedAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(InterruptedSql);
        command.Parameters.AddWithValue("id", id);
        var jobs = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(reader.GetString(0));
        }

        return jobs;
    }
}
