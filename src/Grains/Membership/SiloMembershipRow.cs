using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;

namespace OrleansJobs.Membership;

/// <summary>
/// This silo's row in Orleans' membership table (ADO.NET clustering), for the statements that must
/// know whether the cluster still counts this silo as a member. Under another clustering provider
/// there is no row, and the statements read the silo as alive.
/// </summary>
public sealed class SiloMembershipRow(ILocalSiloDetails silo, IOptions<ClusterOptions> cluster)
{
    /// <summary><c>SiloStatus.Dead</c> as the membership table stores it (a test holds it to the enum).</summary>
    public const int DeadStatus = 6;

    private const string DeadLiteral = "6";

    private const string RowFilter = """
        m.deploymentid = @fence_cluster AND m.address = @fence_address AND m.port = @fence_port AND m.generation = @fence_generation
        """;

    /// <summary>This silo's status in the table, or no row.</summary>
    public const string StatusSql = $"SELECT m.status FROM orleansmembershiptable m WHERE {RowFilter}";

    /// <summary>
    /// A boolean SQL expression: this silo has not been declared dead. It share-locks the silo's row,
    /// so a declaration of death waits until the statement that holds it commits, and a statement
    /// that comes after the declaration sees it: every write fenced by it either commits before the
    /// silo is declared dead or not at all, and a survivor that resumes the silo's work afterwards
    /// reads all of them.
    /// </summary>
    public const string NotDeadSql = $"coalesce((SELECT m.status FROM orleansmembershiptable m WHERE {RowFilter} FOR SHARE), 0) <> {DeadLiteral}";

    public string ClusterId { get; } = cluster.Value.ClusterId;

    public SiloAddress Address => silo.SiloAddress;

    /// <summary>Adds the parameters <see cref="StatusSql"/> and <see cref="NotDeadSql"/> use.</summary>
    public void AddParameters(NpgsqlCommand command)
    {
        var endpoint = silo.SiloAddress.Endpoint;
        command.Parameters.AddWithValue("fence_cluster", ClusterId);
        command.Parameters.AddWithValue("fence_address", endpoint.Address.ToString());
        command.Parameters.AddWithValue("fence_port", endpoint.Port);
        command.Parameters.AddWithValue("fence_generation", silo.SiloAddress.Generation);
    }

    /// <summary>
    /// Adds the fence parameters of <paramref name="row"/>; without one (outside a silo: tests, tools) a row
    /// that matches nothing, so <see cref="NotDeadSql"/> holds and the write goes through.
    /// </summary>
    public static void AddParameters(SiloMembershipRow? row, NpgsqlCommand command)
    {
        if (row is not null)
        {
            row.AddParameters(command);
            return;
        }

        command.Parameters.AddWithValue("fence_cluster", "");
        command.Parameters.AddWithValue("fence_address", "");
        command.Parameters.AddWithValue("fence_port", 0);
        command.Parameters.AddWithValue("fence_generation", 0);
    }
}
