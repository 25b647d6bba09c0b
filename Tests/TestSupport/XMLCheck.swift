import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses `text` as XML with Foundation's XMLParser: the parser's error (nil when well
/// formed) and how many elements of each name it holds.
public func parseXML(_ text: String) -> (error: Error?, elements: [String: Int]) {
    final class Counter: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) { elements[name, default: 0] += 1 }
    }
    let parser = XMLParser(data: Data(text.utf8))
    let counter = Counter()
    parser.delegate = counter
    let ok = parser.parse()
    return (ok ? nil : (parser.parserError ?? NSError(domain: "XMLParser", code: 1)), counter.elements)
}
