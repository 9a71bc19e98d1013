using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>The filters the listing and the export share, as conditions on <c>job_index j</c>; every value is a parameter.</summary>
public static class JobIndexFilter
{
    /// <summary>Appends <c>AND …</c> for each filter given: statuses (names), type, created at or after <paramref name="from"/>, created before <paramref name="to"/>.</summary>
    public static void Append(StringBuilder sql, NpgsqlCommand command, IReadOnlyCollection<string>? statuses, string? type, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (statuses is { Count: > 0 })
        {
            sql.Append(" AND j.status = ANY(@statuses)");
            command.Parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = statuses.ToArray() });
        }

        if (type is not null)
        {
            sql.Append(" AND j.job_type = @type");
            command.Parameters.AddWithValue("type", type);
        }

        if (from is { } after)
        {
            sql.Append(" AND j.created_at >= @from");
            command.Parameters.AddWithValue("from", after.UtcDateTime);
        }

        if (to is { } before)
        {
            sql.Append(" AND j.created_at < @to");
            command.Parameters.AddWithValue("to", before.UtcDateTime);
        }
    }
}
