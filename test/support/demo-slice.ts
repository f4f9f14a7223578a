// The demo-catalogue slice that route and browser tests index: every demo query's product, look-alikes of
// the same classes, and an apple (15 products × 4 listings).
export const DEMO_SLICE = [
  'Arla-Standard-Milk', 'Arla-Medium-Fat-Milk', 'Garant-Ecological-Standard-Milk',
  'Tropicana-Apple-Juice', 'Bravo-Apple-Juice', 'God-Morgon-Orange-Juice',
  'Yoggi-Strawberry-Yoghurt', 'Yoggi-Vanilla-Yoghurt', 'Arla-Natural-Yoghurt',
  'Alpro-Fresh-Soy-Milk', 'Alpro-Shelf-Soy-Milk', 'Oatly-Oat-Milk',
  'Arla-Sour-Cream', 'Arla-Ecological-Sour-Cream', 'Granny-Smith',
];
