/// The wording of the message pages, so every route says the same.
extension MessagePageModel {
    /// An unknown link (404). The same words for every link that is not found.
    public static let linkNotFound = MessagePageModel(
        status: 404, heading: "Link not found", message: "Check the address, or ask whoever sent it for a new link.")
    /// A link that is no longer open (410): the same words whether it expired, was turned off
    /// or ran out of views, so the page does not tell which.
    public static let linkGone = MessagePageModel(
        status: 410, heading: "This link is no longer available", message: "Ask whoever sent it for a new link.")
}
