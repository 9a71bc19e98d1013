using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>
/// The OpenAPI document. It is generated from the types that parse requests and the typed results
/// of the handlers; the transformers here only say what those types cannot: a query value type's
/// allowed names, the journal's JSON Lines alternative, that problem bodies may carry more members.
/// </summary>
public static class ApiDocumentation
{
    public const string JsonLines = "application/jsonl";
    public const string ProblemJson = "application/problem+json";
    public const string SecuritySchemeName = "apiKey";

    /// <summary>The schema of a member of free-form JSON; the generator visits it as a JsonElement too, and must leave it as it is.</summary>
    private static readonly OpenApiSchema AnyValue = new() { Description = "Any JSON value." };

    private static readonly Dictionary<string, string> Tags = new(StringComparer.Ordinal)
    {
        ["Jobs"] = "Submit, list, read and control jobs; read their journals.",
        ["Libraries"] = "Libraries of files: create, read, change and delete them; read their catalogs.",
        ["Workers"] = "External workers: claim queued jobs of external types and report on them under a lease.",
        ["Recovery"] = "Jobs whose silo is gone: status and an on-demand recovery sweep.",
        ["Health"] = "Liveness and readiness, for load balancers and orchestrators.",
    };

    /// <summary>A problem about one job (404, 409), documented with its <c>jobId</c> and <c>jobStatus</c>.</summary>
    public static RouteHandlerBuilder ProducesJobProblem(this RouteHandlerBuilder builder, int statusCode) =>
        builder.Produces<JobProblemDetails>(statusCode, ProblemJson);

    public static RouteHandlerBuilder ProducesJobActionProblems(this RouteHandlerBuilder builder) => builder
        .ProducesJobProblem(StatusCodes.Status404NotFound)
        .ProducesJobProblem(StatusCodes.Status409Conflict)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "OrleansJobs API";
            document.Info.Description = "Crash-safe job supervisor: submit, watch and control long-running jobs.";
            document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
            foreach (var server in document.Servers ?? [])
            {
                server.Url = server.Url?.TrimEnd('/');
            }

            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
            document.Components.SecuritySchemes[SecuritySchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key (ojk_…) as a bearer token; X-Api-Key: <key> works too. Each operation names the role it needs: " +
                    "reader (reads), operator (submit and control), admin (everything), worker (claim and report, in the key's scope).",
            };
            return Task.CompletedTask;
        });
        options.AddOperationTransformer(DescribeSecurity);
        options.AddSchemaTransformer((schema, context, _) =>
        {
            var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
            if (type == typeof(string))
            {
                // ApiJson reads strings through its own converter, which hides their type from the generator.
                var nullable = context.JsonPropertyInfo is { IsGetNullable: true } or { IsSetNullable: true };
                schema.Type = nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
            }
            else if (typeof(IQueryValue).IsAssignableFrom(type))
            {
                // Parsed from one query string value (TryParse), not from a JSON object.
                schema.Type = JsonSchemaType.String;
                schema.Format = null;
                schema.Properties = null;
                schema.Required = null;
                schema.AdditionalProperties = null;
                schema.AdditionalPropertiesAllowed = true;
                if (typeof(INamedQueryValue).IsAssignableFrom(type))
                {
                    var names = (IReadOnlyList<string>)type.GetProperty(nameof(INamedQueryValue.Names), BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
                    schema.Enum = [.. names.Select(n => (JsonNode)JsonValue.Create(n))];
                }
            }
            else if (context.JsonTypeInfo.ElementType == typeof(string) && schema.Items is null)
            {
                // The same converter hides the item type of a list of strings.
                schema.Items = new OpenApiSchema { Type = JsonSchemaType.String };
            }
            else if (typeof(ProblemDetails).IsAssignableFrom(type))
            {
                // Problem bodies carry extension members (traceId, ...): never closed, whatever the request rule says.
                schema.AdditionalPropertiesAllowed = true;
                schema.AdditionalProperties = null;
            }
            else if (type == typeof(JsonElement) && !ReferenceEquals(schema, AnyValue))
            {
                // Every free-form JSON this API carries is an object (a job's parameters, a journal entry's data) of any members.
                schema.Type = JsonSchemaType.Object;
                schema.AdditionalProperties = AnyValue;
            }

            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, _, _) =>
        {
            // The journal's format=jsonl answer: no CLR type describes a stream of lines.
            if (operation.OperationId == "GetJobJournal" && operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content is { } content)
            {
                content[JsonLines] = new OpenApiMediaType
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = "format=jsonl: JSON Lines, one journal entry object (as in the JSON array) per line.",
                    },
                };
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>The API key each operation needs (none for liveness), the role it needs, and its 401 and 403 answers.</summary>
    private static Task DescribeSecurity(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IAllowAnonymous>().Any())
        {
            operation.Security = [];
            return Task.CompletedTask;
        }

        var role = metadata.OfType<RequiredRole>().LastOrDefault()?.Role ?? ApiRoles.Admin;
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, context.Document)] = [] }];
        var roles = role.Replace("|", " or ", StringComparison.Ordinal);
        operation.Description = $"{operation.Description}{(string.IsNullOrEmpty(operation.Description) ? "" : " ")}Needs an API key with the role {roles} (or admin).".TrimStart();
        operation.Extensions ??= new Dictionary<string, IOpenApiExtension>(StringComparer.Ordinal);
        operation.Extensions["x-required-role"] = new JsonNodeExtension(JsonValue.Create(role));
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", Problem(context, "No API key, or one that is unknown, revoked or expired: nothing was changed."));
        operation.Responses.TryAdd("403", Problem(context, "The key's roles (or a worker key's scope) do not allow this: nothing was changed."));
        return Task.CompletedTask;
    }

    private static OpenApiResponse Problem(OpenApiOperationTransformerContext context, string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
        {
            [ProblemJson] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", context.Document) },
        },
    };
}
