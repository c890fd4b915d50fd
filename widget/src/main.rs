fn main() {
    yew::Renderer::<widget::App>::new().render();
}
