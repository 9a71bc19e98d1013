using Npgsql;
using NpgsqlTypes;

namespace OrleansJobs.Devices;

/// <summary>The <c>devices</c> table: every device's definition and health, for listings. Written by the device grains on every change but heartbeats.</summary>
public sealed class DeviceStore(NpgsqlDataSource dataSource)
{
    private const string UpsertSql = """
        INSERT INTO devices (device_id, kind, name, settings, heartbeat_timeout, health, agent, health_since, created_at, updated_at, version)
        VALUES (@id, @kind, @name, @settings, @timeout, @health, @agent, @since, @created, @updated, @version)
        ON CONFLICT (device_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, settings = excluded.settings,
            heartbeat_timeout = excluded.heartbeat_timeout, health = excluded.health, agent = excluded.agent,
            health_since = excluded.health_since, updated_at = excluded.updated_at, version = excluded.version
        WHERE devices.version <= excluded.version
        """;

    /// <summary>Writes the device's row, as shown with <paramref name="health"/> (Busy included).</summary>
    public async Task SaveAsync(string id, DeviceState device, DeviceHealth health, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(UpsertSql);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("kind", device.Kind);
        command.Parameters.AddWithValue("name", device.Name);
        command.Parameters.Add(new NpgsqlParameter("settings", NpgsqlDbType.Jsonb) { Value = device.SettingsJson });
        command.Parameters.AddWithValue("timeout", device.HeartbeatTimeoutSeconds);
        command.Parameters.AddWithValue("health", health.ToString());
        command.Parameters.AddWithValue("agent", (object?)device.Agent ?? DBNull.Value);
        command.Parameters.AddWithValue("since", device.HealthSince);
        command.Parameters.AddWithValue("created", device.CreatedAt);
        command.Parameters.AddWithValue("updated", device.UpdatedAt);
        command.Parameters.AddWithValue("version", device.Version);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM devices WHERE device_id = @id");
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
