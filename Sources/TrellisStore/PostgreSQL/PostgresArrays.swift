import NIOCore
import PostgresNIO

/// A one-dimensional array parameter whose elements may be NULL. postgres-nio encodes arrays of non-optional
/// elements only; many-row writes pass each column as one array and make the rows with `unnest`, so that a
/// batch is one statement whatever its size (a VALUES list would be bound by the protocol's 65,535 parameters).
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    /// The binary array format: the number of dimensions (0 when empty), whether there are NULLs, the element
    /// type; then the one dimension's length and lower bound, and each element as its byte count (-1 for NULL)
    /// and its bytes.
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex)
        }
    }
}

/// A statement assembled from parts, its values bound as `$1`, `$2`, … in the order they are added.
struct BoundSQL {
    var binds = PostgresBindings()

    /// Binds a value; returns its placeholder.
    mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// The statement `sql`, whose placeholders were made by `bind`. Bind every value before the call: a `bind`
    /// inside the argument comes after this value of the statement was taken.
    func query(_ sql: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
