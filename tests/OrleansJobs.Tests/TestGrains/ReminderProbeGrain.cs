using Npgsql;

namespace OrleansJobs.Tests.TestGrains;

/// <summary>Where reminder ticks are recorded: table <c>test_reminder_ticks</c> of the test database.</summary>
public sealed class TickLog(string connectionString)
{
    public const string CreateTableSql =
        "CREATE TABLE IF NOT EXISTS test_reminder_ticks (grain text NOT NULL, silo text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())";

    public async Task RecordAsync(string grain, string silo)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("INSERT INTO test_reminder_ticks (grain, silo) VALUES (@grain, @silo)", connection);
        command.Parameters.AddWithValue("grain", grain);
        command.Parameters.AddWithValue("silo", silo);
        await command.ExecuteNonQueryAsync();
    }
}

public sealed class ReminderProbeGrain(TickLog log, ILocalSiloDetails silo) : Grain, IReminderProbeGrain, IRemindable
{
    private const string ReminderName = "probe";

    async Task<string> IReminderProbeGrain.StartAsync(TimeSpan period)
    {
        await this.RegisterOrUpdateReminder(ReminderName, period, period);
        return silo.SiloAddress.ToParsableString();
    }

    async Task IReminderProbeGrain.StopAsync()
    {
        var reminder = await this.GetReminder(ReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    Task IRemindable.ReceiveReminder(string reminderName, TickStatus status) =>
        log.RecordAsync(this.GetPrimaryKeyString(), silo.SiloAddress.ToParsableString());
}
