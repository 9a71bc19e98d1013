using Npgsql;
using OrleansJobs.Storage;

namespace OrleansJobs.Harness;

/// <summary>A database created for one fixture and dropped (with its connections) when disposed.</summary>
public sealed class TestDatabase(string name, string connectionString, string adminConnectionString) : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public string Name { get; } = name;

    public string ConnectionString { get; } = connectionString;

    /// <summary>A pool on the database, for code under test that takes a data source; disposed with the database.</summary>
    public NpgsqlDataSource DataSource => _dataSource;

    public Task<SchemaMigrationResult> ApplySchemaAsync() => new SchemaMigrator(ConnectionString).ApplyAsync();

    public async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull
            ? default!
            : (T)Convert.ChangeType(result, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<int> ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        return await command.ExecuteNonQueryAsync();
    }

    public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> map, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        using (var pooled = new NpgsqlConnection(ConnectionString))
        {
            NpgsqlConnection.ClearPool(pooled);
        }

        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    /// <summary>A command that takes a pooled connection when executed and returns it afterwards.</summary>
    private NpgsqlCommand Command(string sql, (string Name, object Value)[] parameters)
    {
        var command = _dataSource.CreateCommand(sql);
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }

        return command;
    }
}
