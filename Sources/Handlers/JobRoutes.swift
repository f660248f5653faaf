import Data
import Foundation
import JSONValues

/// `GET /api/jobs/{id}`: the state of a background job of the caller's team.
struct JobRoutes: RouteGroup {
    let access: AccessControl

    func register(on router: Router) {
        router.get("/api/jobs/{id}", access.protect { request, principal in
            let id = try request.uuidParameter("id")
            guard let job = try JobRepository(context.database).find(id: id, team: principal.teamID) else {
                throw APIError.notFound("no such job")
            }
            return .json(JobRoutes.present(job))
        })
        if context.settings.testRoutes {
            // Enqueues any registered job kind for the caller's team.
            router.post("/api/_test/jobs", access.protect { request, principal in
                var body = try request.jsonObject(limit: context.settings.maxJSONBody)
                let kind = body.string("kind", minLength: 1, maxLength: 100)
                let payload = body.object("payload", required: false)?.value ?? [:]
                let attempts = body.int("max_attempts", required: false, range: 1...10) ?? 3
                try body.finish()
                let job = try JobRepository(context.database).enqueue(
                    kind: JobKind(rawValue: kind!), team: principal.teamID, payload: payload.serializedText,
                    maxAttempts: attempts)
                return .json(JobRoutes.present(job), status: 202)
            })
        }
    }

    static func present(_ job: JobRecord) -> JSON {
        let total = job.progressTotal
        return [
            "id": .string(job.id.lower), "kind": .string(job.kind.rawValue), "status": .string(job.status.rawValue),
            "attempts": .int(Int64(job.attempts)), "max_attempts": .int(Int64(job.maxAttempts)),
            "progress": [
                "done": JSON(job.progressDone), "total": JSON(total), "note": JSON(job.progressNote),
                "percent": total.flatMap { $0 > 0 ? JSON.double((Double(job.progressDone ?? 0) / Double($0) * 1000).rounded() / 10) : nil } ?? .null,
            ],
            "result": job.result.flatMap { try? JSON.parse(Array($0.utf8)) } ?? .null,
            "error": JSON(job.error),
            "created_at": Present.time(job.createdAt), "started_at": Present.time(job.startedAt),
            "finished_at": Present.time(job.finishedAt),
            "duration_ms": job.durationMS.map { .int($0) } ?? .null,
        ]
    }
}
